// Keeping payload types and RTP header extension ids stable when the relay re-offers.
//
// A re-offer must keep the ids a connection already negotiated (JSEP; RFC 8285). aiortc, which
// runs Duet's relay peers, numbers the codecs and header extensions of every offer it makes from
// its own defaults, so its offer that adds (or pauses) a screen share would renumber them:
// Chromium refuses a reassigned extension id outright, and a changed payload type silently
// stops aiortc's receiver (it fixes its payload-type table when it starts). Before applying such
// a re-offer the client puts back the numbers in use; its answer then carries them, and aiortc
// adopts the numbers of the answer. Only used in relay mode (PeerLink `keepIds`).

const EXTMAP = /^a=extmap:(\d+)(\/[a-z]+)? (\S+)(.*)$/;
const RTPMAP = /^a=rtpmap:(\d+) (\S+)/;
const FMTP = /^a=fmtp:(\d+) (.*)$/;
const PT_LINE = /^a=(rtpmap|fmtp|rtcp-fb):(\d+|\*)(.*)$/;
const FREE_PTS = [...range(96, 127), ...range(35, 63)];

function* range(from, to) {
  for (let i = from; i <= to; i += 1) yield i;
}

function sections(sdp) {
  const lines = sdp.split(/\r?\n/).filter((line, i, all) => line || i < all.length - 1);
  const out = [{ kind: null, lines: [] }];
  for (const line of lines) {
    if (line.startsWith('m=')) out.push({ kind: line.slice(2).split(' ')[0], lines: [] });
    out[out.length - 1].lines.push(line);
  }
  return out;
}

/** Per payload type of one media section: a key naming the codec (rtx by its base codec). */
function codecKeys(section) {
  const names = new Map();
  const params = new Map();
  for (const line of section.lines) {
    let match = RTPMAP.exec(line);
    if (match) names.set(match[1], match[2].toLowerCase());
    match = FMTP.exec(line);
    if (match) params.set(match[1], match[2]);
  }
  const fmtp = (pt) => (params.get(pt) || '').split(';').map((p) => p.trim()).filter((p) => p && !p.startsWith('apt=')).sort().join(';');
  const keys = new Map();
  for (const [pt, name] of names) if (!name.startsWith('rtx/')) keys.set(pt, `${name}|${fmtp(pt)}`);
  for (const [pt, name] of names) {
    if (!name.startsWith('rtx/')) continue;
    const apt = /(?:^|;)\s*apt=(\d+)/.exec(params.get(pt) || '');
    keys.set(pt, `${name}|${apt && keys.has(apt[1]) ? keys.get(apt[1]) : '?'}`);
  }
  return keys;
}

/** A codec key without its format parameters (`opus/48000/2`, rtx by its base's name). */
function looseKey(kind, key) {
  const parts = key.split('|');
  return parts[0].startsWith('rtx/') ? `${kind} ${parts[0]}|${parts[1]}` : `${kind} ${parts[0]}`;
}

/** What a connection already uses: payload types by kind and codec key, extension ids by uri. */
function inUse(currentSdp) {
  const byKey = new Map(); // `${kind} ${key}` → pt
  const loose = new Map(); // looseKey → pt, or null when several payload types share it
  const pts = new Set();
  const extensions = new Map();
  for (const section of sections(currentSdp)) {
    for (const line of section.lines) {
      const match = EXTMAP.exec(line);
      if (match && !extensions.has(match[3])) extensions.set(match[3], Number(match[1]));
    }
    if (!section.kind) continue;
    for (const [pt, key] of codecKeys(section)) {
      pts.add(Number(pt));
      if (!byKey.has(`${section.kind} ${key}`)) byKey.set(`${section.kind} ${key}`, Number(pt));
      const name = looseKey(section.kind, key);
      const seen = loose.get(name);
      loose.set(name, seen === undefined || seen === Number(pt) ? Number(pt) : null);
    }
  }
  return { byKey, loose, pts, extensions };
}

function renumberCodecs(section, used) {
  const keys = codecKeys(section);
  const mLine = section.lines[0].split(' ');
  const map = new Map();
  const taken = new Set();
  const free = () => FREE_PTS.find((pt) => !used.pts.has(pt) && !taken.has(pt)) ?? null;
  for (const pt of mLine.slice(3)) {
    const key = keys.get(pt);
    let target = key === undefined
      ? Number(pt) // a static payload type without rtpmap
      : used.byKey.get(`${section.kind} ${key}`) ?? used.loose.get(looseKey(section.kind, key)) ?? null;
    if (target === null || taken.has(target)) target = !used.pts.has(Number(pt)) && !taken.has(Number(pt)) ? Number(pt) : free();
    if (target === null) continue; // no number left: leave this codec out
    taken.add(target);
    map.set(pt, String(target));
  }
  if ([...map].every(([from, to]) => from === to) && map.size === mLine.length - 3) return section.lines;
  const renumberFmtp = (rest) => rest.replace(/(^|;)(\s*)apt=(\d+)/, (all, sep, space, apt) => `${sep}${space}apt=${map.get(apt) ?? apt}`);
  const lines = [[...mLine.slice(0, 3), ...mLine.slice(3).filter((pt) => map.has(pt)).map((pt) => map.get(pt))].join(' ')];
  for (const line of section.lines.slice(1)) {
    const match = PT_LINE.exec(line);
    if (!match || match[2] === '*') lines.push(line);
    else if (map.has(match[2])) lines.push(`a=${match[1]}:${map.get(match[2])}${match[1] === 'fmtp' ? renumberFmtp(match[3]) : match[3]}`);
  }
  return lines;
}

function renumberExtensions(lines, used, taken) {
  return lines.flatMap((line) => {
    const match = EXTMAP.exec(line);
    if (!match) return [line];
    const [, id, direction = '', uri, rest] = match;
    let wanted = used.extensions.get(uri) ?? taken.get(uri);
    if (wanted === undefined) {
      const ids = new Set([...used.extensions.values(), ...taken.values()]);
      wanted = !ids.has(Number(id)) ? Number(id) : [...range(1, 14)].find((i) => !ids.has(i)) ?? null;
      taken.set(uri, wanted);
    }
    return wanted === null ? [] : [`a=extmap:${wanted}${direction} ${uri}${rest}`];
  });
}

/** The remote re-offer with the payload types and extension ids of `currentSdp` put back. */
export function keepNegotiatedIds(offerSdp, currentSdp) {
  const used = inUse(currentSdp);
  const newExtensions = new Map();
  const eol = offerSdp.includes('\r\n') ? '\r\n' : '\n';
  const out = sections(offerSdp).flatMap((section) => {
    const lines = section.kind ? renumberCodecs(section, used) : section.lines;
    return renumberExtensions(lines, used, newExtensions);
  });
  return out.join(eol) + eol;
}
