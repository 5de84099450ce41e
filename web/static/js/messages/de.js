// Deutsch (Sie-Form). Same keys and placeholders as en.js (tests/unit/test_i18n_catalogue.py).
// The body is JSON (double quotes, no comments inside, no trailing commas) so the tests can
// read it; a plural message is {"one": ..., "other": ...} chosen by params.count.
// How to add a string: docs/architecture.md, "The client's words".
export default {
  "app.title": "Duet · 1:1-Gespräche",
  "app.loading": "Duet wird geladen…",
  "language.self": "Deutsch",
  "language.label": "Sprache",
  "language.auto": "Sprache des Browsers ({name})",
  "topbar.home.participant": "Meine Gespräche",
  "topbar.home.employee": "1:1-Gespräche",
  "topbar.home.organizer": "Einstellungen",
  "role.organizer": "Veranstalter",
  "role.employee": "Mitarbeitende",
  "role.participant": "Teilnehmende",
  "topbar.sign_out": "Abmelden",
  "error.generic_reload": "Etwas ist schiefgegangen. Bitte laden Sie die Seite neu.",
  "error.generic_retry": "Etwas ist schiefgegangen. Bitte versuchen Sie es noch einmal.",
  "error.unreachable": "Der Duet-Server ist nicht erreichbar. Prüfen Sie Ihre Verbindung und versuchen Sie es noch einmal.",
  "error.server_status": "Der Server hat mit {status} geantwortet. Bitte versuchen Sie es noch einmal.",
  "ui.loading": "Wird geladen…",
  "ui.sections": "Bereiche",

  "format.times_in_zone": "Zeiten in {zone} ({tz})",
  "format.times_in": "Zeiten in {zone}",
  "format.no_time": "Noch keine Zeit",
  "format.wait_days": {"one": "{count} Tag {hours} Std.", "other": "{count} Tage {hours} Std."},
  "format.wait_hours": "{hours} Std. {minutes} Min."
};
