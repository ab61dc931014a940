import { rename, rm, stat, writeFile } from 'node:fs/promises';
import sharp from 'sharp';

/** What happened to one cover. */
export type CoverResult = 'downloaded' | 'cached' | 'no-art' | 'bad-image';

/** True when `file` is a JPEG that decodes completely. */
export async function isGoodJpeg(file: string | Buffer): Promise<boolean> {
  try {
    const meta = await sharp(file).metadata();
    if (meta.format !== 'jpeg') return false;
    await sharp(file, { failOn: 'truncated' }).raw().toBuffer();
    return true;
  } catch {
    return false;
  }
}

/**
 * A release group's front cover from the Cover Art Archive (`front-250` or `-500`),
 * following its redirect, written to a temp file and renamed into place once it
 * decodes; an existing good file is kept (so a rerun resumes).
 */
export async function fetchCover(caaUrl: string, mbid: string, file: string, thumb: 250 | 500, userAgent: string): Promise<CoverResult> {
  if (await stat(file).then(() => true, () => false)) {
    if (await isGoodJpeg(file)) return 'cached';
    await rm(file, { force: true });
  }
  const res = await fetch(`${caaUrl.replace(/\/+$/, '')}/release-group/${mbid}/front-${thumb}`, { headers: { 'User-Agent': userAgent }, redirect: 'follow' });
  if (res.status === 404) return 'no-art';
  if (!res.ok) throw new Error(`Cover Art Archive ${res.status} for ${mbid}`);
  let bytes: Buffer;
  try {
    bytes = Buffer.from(await res.arrayBuffer());
  } catch {
    return 'bad-image'; // the connection dropped mid-image
  }
  if (!(await isGoodJpeg(bytes))) return 'bad-image';
  const tmp = `${file}.${process.pid}.part`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
  return 'downloaded';
}
