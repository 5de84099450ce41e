// English, the complete catalogue and the fallback for a key another language lacks.
// The body is JSON (double quotes, no comments inside, no trailing commas) so the tests can
// read it; a plural message is {"one": ..., "other": ...} chosen by params.count.
// How to add a string: docs/architecture.md, "The client's words".
export default {
  "app.title": "Duet · 1-1 chats",
  "app.loading": "Loading Duet…",
  "language.self": "English",
  "language.label": "Language",
  "language.auto": "Browser language ({name})",
  "topbar.home.participant": "My chats",
  "topbar.home.employee": "1-1 Chat",
  "topbar.home.organizer": "Settings",
  "role.organizer": "Organizer",
  "role.employee": "Employee",
  "role.participant": "Participant",
  "topbar.sign_out": "Sign out",
  "error.generic_reload": "Something went wrong. Please reload the page.",
  "error.generic_retry": "Something went wrong. Please try again.",
  "error.unreachable": "The Duet server cannot be reached. Check your connection and try again.",
  "error.server_status": "The server answered {status}. Please try again.",
  "ui.loading": "Loading…",
  "ui.sections": "Sections",

  "format.times_in_zone": "Times in {zone} ({tz})",
  "format.times_in": "Times in {zone}",
  "format.no_time": "No time yet",
  "format.wait_days": {"one": "{count} day {hours} h", "other": "{count} days {hours} h"},
  "format.wait_hours": "{hours} h {minutes} min"
};
