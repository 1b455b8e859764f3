import { describe, expect, it } from 'vitest';

import {
  consoleEncoder,
  createLogger,
  encoderFor,
  jsonEncoder,
  type LogRecord,
} from '../../src/operator/logger.js';

const record = (
  fields: Record<string, unknown>,
  level: LogRecord['level'] = 'info',
): LogRecord => ({
  time: new Date('2026-12-07T10:33:26.602Z'),
  level,
  msg: 'applied',
  fields,
});

describe('console lines', () => {
  it('show time, level, the message padded to a column, and key=value fields', () => {
    const line = consoleEncoder(false)(record({ key: 'ns/m', kind: 'Deployment', replicas: 3 }));
    expect(line).toBe(
      `10:33:26.602 INFO  ${'applied'.padEnd(32)} key=ns/m kind=Deployment replicas=3`,
    );
  });

  it('quote values with spaces, quotes or equals signs, and encode objects as JSON', () => {
    const line = consoleEncoder(false)(
      record({
        error: 'connect ECONNREFUSED 127.0.0.1:6443',
        a: 'x=y',
        o: { n: 1 },
        gone: undefined,
      }),
    );
    expect(line).toContain('error="connect ECONNREFUSED 127.0.0.1:6443" a="x=y" o={"n":1}');
    expect(line).not.toContain('gone');
  });

  it('colour the level only when asked', () => {
    expect(consoleEncoder(true)(record({}, 'warn'))).toContain('\x1b[33mWARN \x1b[0m');
    expect(consoleEncoder(false)(record({}, 'warn'))).not.toContain('\x1b[');
  });
});

describe('the format', () => {
  it('is console on a terminal (coloured unless NO_COLOR), JSON elsewhere or when asked', () => {
    const r = record({ key: 'ns/m' }, 'error');
    expect(encoderFor('auto', { isTTY: false }, {})).toBe(jsonEncoder);
    expect(encoderFor('json', { isTTY: true }, {})).toBe(jsonEncoder);
    expect(encoderFor('auto', { isTTY: true }, {})(r)).toContain('\x1b[31mERROR');
    expect(encoderFor('auto', { isTTY: true }, { NO_COLOR: '1' })(r)).toMatch(/ ERROR applied/);
    expect(encoderFor('console', { isTTY: false }, {})(r)).toMatch(/^10:33:26\.602 ERROR applied/);
  });

  it('JSON lines carry every field, the level and the message', () => {
    const lines: string[] = [];
    createLogger('info', { component: 'c' }, (l) => lines.push(l))
      .child({ key: 'ns/m' })
      .warn('w', { n: 1 });
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'warn',
      msg: 'w',
      component: 'c',
      key: 'ns/m',
      n: 1,
    });
  });
});
