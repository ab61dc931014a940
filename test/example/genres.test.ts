import { describe, expect, it } from 'vitest';
import { genreRow, genresOfTag, normalizeTag } from '../../examples/metal-vs-rap/genres.js';

describe('tags → the study’s genre columns', () => {
  it('normalises spelling: hip hop, hip-hop, Hip_Hop and hiphop are one tag', () => {
    for (const t of ['hip hop', 'hip-hop', 'Hip_Hop', 'hiphop', ' HIP  HOP ']) expect(normalizeTag(t)).toBe('hip hop');
    expect(normalizeTag('Drum & Bass')).toBe('drum and bass');
  });

  it.each([
    ['hip hop', ['rap']],
    ['hip-hop', ['rap']],
    ['trap', ['rap']],
    ['trip hop', ['electronic']],
    ['metalcore', ['metal']],
    ['deathcore', ['metal']],
    ['grindcore', ['metal']],
    ['rap metal', ['metal', 'rap']],
    ['rapcore', ['metal', 'rap']],
    ['nu metal', ['metal']],
    ['hardcore', []],
    ['hardcore hip hop', ['rap']],
    ['industrial', []],
    ['atmospheric sludge metal', ['metal']],
    ['abstract hip hop', ['rap']],
    ['seen live', []],
  ])('%s → %j', (tag, genres) => {
    expect(genresOfTag(tag).sort()).toEqual([...genres].sort());
  });

  it('a release group is the OR of its tags; down-voted tags do not count', () => {
    const row = genreRow([{ name: 'heavy metal', count: 3 }, { name: 'hip hop', count: 0 }, { name: 'Rock', count: 1 }]);
    expect(row.metal).toBe(1);
    expect(row.rap).toBe(0);
    expect(row.rock).toBe(1);
    expect(row.sum_genres).toBe(2);
  });
});
