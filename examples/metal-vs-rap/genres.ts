/**
 * MusicBrainz tags → the study's ten genre columns. The study never published its
 * mapping; this one is deterministic and documented: an exact dictionary first, then
 * conservative whole-word rules. Ambiguous tags are decided explicitly below.
 */
export const genreColumns = ['classical', 'country', 'electronic', 'experimental', 'folk', 'jazz', 'metal', 'pop_music', 'rap', 'rock'] as const;
export type Genre = (typeof genreColumns)[number];

/** lower-case, ASCII-folded, `&` → `and`, hyphens/underscores/spaces collapsed: "Hip-Hop" → "hip hop". */
export function normalizeTag(tag: string): string {
  return tag
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/&/g, ' and ')
    .replace(/[-_\s]+/g, ' ')
    .trim()
    .replace(/^hiphop$/, 'hip hop');
}

const g = (...genres: Genre[]) => genres;

/** Exact entries, after normalisation. Multi-genre entries are hybrids. */
export const exactGenres: Readonly<Record<string, readonly Genre[]>> = {
  // metal, including the single-token styles the rules cannot see
  metal: g('metal'), 'heavy metal': g('metal'), 'death metal': g('metal'), 'black metal': g('metal'), 'thrash metal': g('metal'),
  'doom metal': g('metal'), 'power metal': g('metal'), 'speed metal': g('metal'), 'progressive metal': g('metal'),
  'symphonic metal': g('metal'), 'gothic metal': g('metal'), 'sludge metal': g('metal'), 'stoner metal': g('metal'),
  'groove metal': g('metal'), 'melodic death metal': g('metal'), 'post metal': g('metal'), 'nu metal': g('metal'),
  'industrial metal': g('metal'), metalcore: g('metal'), deathcore: g('metal'), grindcore: g('metal'), djent: g('metal'),
  'folk metal': g('folk', 'metal'),
  // rap
  rap: g('rap'), 'hip hop': g('rap'), 'gangsta rap': g('rap'), 'hardcore hip hop': g('rap'), 'boom bap': g('rap'),
  'conscious hip hop': g('rap'), 'southern hip hop': g('rap'), 'west coast hip hop': g('rap'), 'east coast hip hop': g('rap'),
  trap: g('rap'), drill: g('rap'), grime: g('rap'), horrorcore: g('rap'), crunk: g('rap'), 'g funk': g('rap'), 'cloud rap': g('rap'),
  'pop rap': g('pop_music', 'rap'), 'country rap': g('country', 'rap'), 'jazz rap': g('jazz', 'rap'),
  'experimental hip hop': g('experimental', 'rap'),
  // hybrids that leave the metal-vs-rap subset (the study's "both" rows)
  'rap metal': g('metal', 'rap'), rapcore: g('metal', 'rap'), 'trap metal': g('metal', 'rap'), 'rap rock': g('rap', 'rock'),
  // not rap despite the token
  'trip hop': g('electronic'), 'edm trap': g('electronic'),
  // qualified "hardcore"
  'hardcore punk': g('rock'), 'hardcore techno': g('electronic'),
  // the rest of the columns
  classical: g('classical'), baroque: g('classical'), opera: g('classical'), 'modern classical': g('classical'),
  country: g('country'), bluegrass: g('country', 'folk'),
  electronic: g('electronic'), electronica: g('electronic'), techno: g('electronic'), house: g('electronic'), ambient: g('electronic'),
  'drum and bass': g('electronic'), dubstep: g('electronic'), idm: g('electronic'), synthwave: g('electronic'),
  experimental: g('experimental'), noise: g('experimental'), 'avant garde': g('experimental'),
  folk: g('folk'), jazz: g('jazz'), 'free jazz': g('jazz'), bebop: g('jazz'), 'jazz fusion': g('jazz'),
  pop: g('pop_music'), 'k pop': g('pop_music'), 'j pop': g('pop_music'), 'synth pop': g('pop_music'), 'dance pop': g('pop_music'),
  rock: g('rock'), punk: g('rock'), 'punk rock': g('rock'), grunge: g('rock'), 'indie rock': g('rock'),
};

/** Tags left unmapped on purpose (ambiguous as bare words). */
export const unmappedOnPurpose = new Set(['hardcore', 'industrial', 'neoclassical', 'power', 'progressive', 'alternative', 'underground', 'singer songwriter', 'americana']);

/** The genres of one tag, or [] when it maps to none. */
export function genresOfTag(tag: string): Genre[] {
  const t = normalizeTag(tag);
  const exact = exactGenres[t];
  if (exact) return [...exact];
  if (unmappedOnPurpose.has(t)) return [];
  const words = t.split(' ');
  const last = words.at(-1);
  const out = new Set<Genre>();
  if (last === 'metal') out.add('metal');
  if (t.includes('hip hop') || words.includes('rap')) out.add('rap');
  if (last === 'rock') out.add('rock');
  if (last === 'jazz') out.add('jazz');
  if (last === 'folk') out.add('folk');
  return [...out];
}

/** A release group's multi-hot genre row from its tags (down-voted tags ignored), and `sum_genres`. */
export function genreRow(tags: readonly { name: string; count?: number }[], minVotes = 1): Record<Genre, 0 | 1> & { sum_genres: number } {
  const hit = new Set<Genre>();
  for (const tag of tags) if ((tag.count ?? 1) >= minVotes) for (const genre of genresOfTag(tag.name)) hit.add(genre);
  const row = Object.fromEntries(genreColumns.map((c) => [c, hit.has(c) ? 1 : 0])) as Record<Genre, 0 | 1>;
  return { ...row, sum_genres: hit.size };
}
