// Index pages as web servers write them: only direct children of the
// directory are entries; parent, sort and foreign links are not.

import { describe, expect, it } from 'vitest';
import { parseDirectoryIndex } from '../../../src/runtime/sources/http-index.js';

const dir = new URL('http://store.local/models/mnist/');

describe('parseDirectoryIndex', () => {
  it('reads Apache/python-style HTML: relative, absolute and quoted links, entities', () => {
    const body = `<ul>
      <li><a href="?C=N;O=D">Name</a></li>
      <li><a href="/models/">Parent Directory</a></li>
      <li><a href="../">..</a></li>
      <li><a href="1/">1/</a></li>
      <li><a HREF='2/' class="d">2/</a></li>
      <li><a href=/models/mnist/3/>3/</a></li>
      <li><a href="http://elsewhere/models/mnist/4/">4/</a></li>
      <li><a href="a%20b.json">a b.json</a></li>
      <li><a href="x&amp;y.txt">x&amp;y.txt</a></li>
      <li><a href="1/model.json">deeper</a></li>
      <li><a href="#top">top</a></li>
    </ul>`;
    expect(parseDirectoryIndex(body, 'text/html; charset=utf-8', dir)).toEqual({
      directories: ['1', '2', '3'],
      files: ['a b.json', 'x&y.txt'],
    });
  });

  it("reads nginx's autoindex_format json", () => {
    const body = JSON.stringify([
      { name: '1', type: 'directory' },
      { name: 'model.json', type: 'file', size: 10 },
      { name: 'link', type: 'other' },
    ]);
    expect(parseDirectoryIndex(body, 'application/json', dir)).toEqual({
      directories: ['1'],
      files: ['model.json'],
    });
  });

  it('an empty HTML index is an empty directory; anything else is no index', () => {
    expect(parseDirectoryIndex('<html><body></body></html>', 'text/html', dir)).toEqual({
      directories: [],
      files: [],
    });
    expect(parseDirectoryIndex('{"format":"graph-model"}', 'application/json', dir)).toBe(
      undefined,
    );
    expect(parseDirectoryIndex('\u0000\u0001', 'application/octet-stream', dir)).toBe(undefined);
  });
});
