// The server's length limits, mirrored so a form never cuts text the server would take
// (scheduling/store_chats.py MAX_TEXT, scheduling/store_availability.py validate_profile).
// The server stays the judge: it counts code points, a form's maxlength UTF-16 units.

/** A request's answer and message, a decline message, a cancel reason. */
export const TEXT_MAX = 2000;
/** The employee's profile. */
export const BACKGROUND_MAX = 1000;
export const QUESTION_MAX = 500;
