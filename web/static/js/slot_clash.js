// Which of a person's confirmed chats a free slot would clash with: pure, so the browser test
// can check it with any data (tests/browser/test_browser_find.py).

/** Whether [aStart, aEnd) and [bStart, bEnd) share an instant (touching ends do not). */
export function overlaps(aStart, aEnd, bStart, bEnd) {
  return Date.parse(aStart) < Date.parse(bEnd) && Date.parse(bStart) < Date.parse(aEnd);
}

/**
 * The first confirmed chat of `mine` (GET /me/schedule's chats) whose time overlaps `slot`,
 * or null. `exceptChatId` is the chat being moved: its own time never clashes with itself.
 */
export function clashWith(slot, mine, exceptChatId = null) {
  for (const chat of mine) {
    if (chat.id === exceptChatId || chat.state !== 'confirmed' || !chat.slot) continue;
    if (overlaps(slot.starts_at, slot.ends_at, chat.slot.starts_at, chat.slot.ends_at)) return chat;
  }
  return null;
}
