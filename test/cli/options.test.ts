// The options engine both binaries share: precedence, the empty-value rule,
// errors that name their source, frozen results. Checked over generated
// inputs on both real tables, not on a table made for the test.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { envName } from '../../src/contract/runtime.js';
import type { OptionSpec } from '../../src/cli/options.js';
import {
  ConfigError,
  envSource,
  fileSource,
  flagSource,
  resolveOptions,
} from '../../src/cli/options.js';
import { OPERATOR_OPTIONS } from '../../src/operator/config.js';
import { SERVE_OPTIONS } from '../../src/runtime/config.js';

/** A valid raw value for an option, different per seed. */
function validRaw(spec: OptionSpec, seed: number): string {
  const kind = spec.kind;
  if (typeof kind !== 'string') return kind[seed % kind.length]!;
  switch (kind) {
    case 'string':
      return `value-${seed}`;
    case 'list':
      return `a${seed},b${seed}`;
    case 'bool':
      return seed % 2 === 0 ? 'true' : 'false';
    case 'int':
    case 'float': {
      const min = spec.min ?? 0;
      const max = spec.max ?? min + 1000;
      return String(min + (seed % (max - min + 1)));
    }
  }
}

const TABLES = { operator: OPERATOR_OPTIONS, runtime: SERVE_OPTIONS } as const;

describe.each(Object.entries(TABLES))('the %s table', (_, specs) => {
  const resolve = (flags: string[], env: NodeJS.ProcessEnv, file?: Record<string, string>) =>
    resolveOptions<Record<string, unknown>>(specs, [
      flagSource(flags, specs),
      envSource(env, specs),
      ...(file ? [fileSource('settings', file)] : []),
    ]);
  const required = Object.fromEntries(
    specs.filter((s) => s.required).map((s) => [envName(s.flag), validRaw(s, 1)]),
  );

  it('takes each option from the highest source that sets it: flag > env > file > default', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...specs),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.nat(1000),
        (spec, [inFlags, inEnv, inFile], seed) => {
          const [f, e, c] = [
            validRaw(spec, seed),
            validRaw(spec, seed + 1),
            validRaw(spec, seed + 2),
          ];
          const { [envName(spec.flag)]: _, ...others } = required;
          const config = () =>
            resolve(
              inFlags ? [`--${spec.flag}=${f}`] : [],
              { ...others, ...(inEnv ? { [envName(spec.flag)]: e } : {}) },
              inFile ? { [spec.flag]: c } : {},
            )[spec.key];
          const expected = inFlags ? f : inEnv ? e : inFile ? c : undefined;
          const alone = (raw: string) => resolve([`--${spec.flag}`, raw], others)[spec.key];
          if (expected !== undefined) expect(config()).toEqual(alone(expected));
          else if (spec.required) expect(config).toThrow(/is required/);
          else if (typeof spec.default !== 'function') expect(config()).toEqual(spec.default);
        },
      ),
    );
  });

  it('treats an empty value as unset in every source', () => {
    fc.assert(
      fc.property(fc.constantFrom(...specs), fc.nat(1000), (spec, seed) => {
        const raw = validRaw(spec, seed);
        // Empty in the flags and the environment: the file's value stands.
        const config = resolve(
          [`--${spec.flag}=`],
          { ...required, [envName(spec.flag)]: '' },
          { [spec.flag]: raw },
        );
        expect(config[spec.key]).toEqual(resolve([`--${spec.flag}`, raw], required)[spec.key]);
        // Empty everywhere: as if never set.
        const unset = () => resolve([`--${spec.flag}=`], { ...required, [envName(spec.flag)]: '' });
        if (spec.required)
          expect(unset).toThrow(`--${spec.flag} (or ${envName(spec.flag)}) is required`);
        else expect(unset()[spec.key]).toEqual(resolve([], required)[spec.key]);
      }),
    );
  });

  it('names the source and the setting of a bad value', () => {
    const numeric = specs.filter((s) => s.kind === 'int' || s.kind === 'float');
    fc.assert(
      fc.property(
        fc.constantFrom(...numeric),
        fc.constantFrom('flag', 'env', 'file'),
        (spec, where) => {
          const bad = 'not-a-number';
          const run = () =>
            where === 'flag'
              ? resolve([`--${spec.flag}`, bad], required)
              : where === 'env'
                ? resolve([], { ...required, [envName(spec.flag)]: bad })
                : resolve([], required, { [spec.flag]: bad });
          const name =
            where === 'flag'
              ? `--${spec.flag}`
              : where === 'env'
                ? envName(spec.flag)
                : `settings: ${spec.flag}`;
          expect(run).toThrow(
            new ConfigError(
              `${name} ("${bad}") must be ${spec.kind === 'int' ? 'an integer' : 'a number'}`,
            ),
          );
        },
      ),
    );
  });

  it('returns a frozen configuration', () => {
    const config = resolve([], required);
    expect(Object.isFrozen(config)).toBe(true);
    for (const value of Object.values(config)) {
      if (Array.isArray(value)) expect(Object.isFrozen(value)).toBe(true);
    }
    expect(() => {
      config[specs[0]!.key] = 'changed';
    }).toThrow(TypeError);
  });
});

describe('flags', () => {
  it.each([
    [['model'], 'unexpected argument "model"'],
    [['--bogus=1'], 'unknown flag --bogus'],
    [['--port'], 'flag --port needs a value'],
  ])('rejects %j', (argv, message) => {
    expect(() => flagSource(argv, SERVE_OPTIONS)).toThrow(new ConfigError(message));
  });

  it('ignores variables it does not know, and refuses unknown settings in a file', () => {
    expect(() =>
      resolveOptions(OPERATOR_OPTIONS, [
        envSource({ TENSORFLEET_COLOUR: 'blue' }, OPERATOR_OPTIONS),
      ]),
    ).not.toThrow();
    expect(() =>
      resolveOptions(OPERATOR_OPTIONS, [fileSource('ConfigMap a/b', { colour: 'blue' })]),
    ).toThrow(new ConfigError('ConfigMap a/b: colour: unknown setting'));
  });
});
