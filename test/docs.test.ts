import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const pages = ['README.md', 'CHANGELOG.md', 'examples/metal-vs-rap/README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
const read = (page: string) => readFileSync(join(root, page), 'utf8');
/** The page without its fenced code blocks (links and headings inside code are not links and headings). */
const prose = (page: string) => read(page).replace(/^```[\s\S]*?^```/gm, '');

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');

describe('the Markdown documentation', () => {
  it.each(pages)('%s: every relative link and anchor points at something that exists', (page) => {
    const broken: string[] = [];
    for (const [, target] of prose(page).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue; // http(s), mailto
      const [path, anchor] = target!.split('#');
      const file = path ? join(dirname(join(root, page)), path) : join(root, page);
      if (!existsSync(file)) {
        broken.push(`${target} (no ${relative(root, file)})`);
        continue;
      }
      if (anchor && file.endsWith('.md')) {
        const headings = [...readFileSync(file, 'utf8').replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]!));
        if (!headings.includes(anchor)) broken.push(`${target} (no heading #${anchor})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the README documents every FASTVISION_* environment variable the code reads', () => {
    const used = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(dir, e.name));
        else if (e.name.endsWith('.ts')) for (const m of readFileSync(join(dir, e.name), 'utf8').matchAll(/process\.env\.(FASTVISION_[A-Z_]+)/g)) used.add(m[1]!);
      }
    };
    walk(join(root, 'src'));
    expect([...used].sort()).toEqual(['FASTVISION_BACKEND', 'FASTVISION_CACHE', 'FASTVISION_HUB_URL', 'FASTVISION_INFERENCE', 'FASTVISION_OFFLINE', 'FASTVISION_PROGRESS_INTERVAL', 'FASTVISION_QUIET', 'FASTVISION_THREADS', 'FASTVISION_TRAINING']);
    for (const name of used) expect(read('README.md'), name).toMatch(new RegExp(`\\| \`${name}\` \\|`));
  });

  it('every command of the CLI is in the getting-started guide', () => {
    const cli = readFileSync(join(root, 'src/cli.ts'), 'utf8');
    const commands = [...cli.matchAll(/^ {2}'?([a-z-]+)'?: \{ run:/gm)].map((m) => m[1]!);
    expect(commands).toEqual(['info', 'train', 'lr-find', 'predict', 'interpret', 'serve', 'bench']);
    for (const c of commands) expect(read('docs/getting-started.md'), c).toContain(`fastvision ${c}`);
  });

  it('every picture a guide shows is in docs/images', () => {
    for (const page of pages) {
      for (const [, src] of prose(page).matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)) {
        expect(existsSync(join(dirname(join(root, page)), src!)), `${page}: ${src}`).toBe(true);
      }
    }
  });
});
