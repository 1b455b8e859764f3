import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/**
 * A child process run in its own process group, with stdout and stderr
 * appended to a log file. Every group is killed when this Node process exits,
 * however it exits (see the reaper below).
 */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Settles when the process has exited. */
  readonly exited: Promise<ExitInfo>;
  /** How it exited, or undefined while it runs. */
  exitInfo(): ExitInfo | undefined;
  /** SIGTERM to the whole group, then SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** The last `maxBytes` of the log, for error messages. */
  logTail(maxBytes?: number): string;
}

export interface StartOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly logPath: string;
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
}

const live = new Map<number, ManagedProcess>();

/*
 * The reaper is a tiny bash process, in a process group of its own, that reads
 * "+<pgid>" / "-<pgid>" lines on stdin. When its stdin reaches end of file
 * (this process exited, crashed or was SIGKILLed: the kernel closes the pipe in
 * every case) it sends SIGTERM to every group still registered, waits up to
 * five seconds, then sends SIGKILL. That is what guarantees no orphans even
 * when an interrupted test runner never gets to run its teardown.
 */
const REAPER_SCRIPT = `
trap '' INT HUP
declare -A groups=()
while IFS= read -r line; do
  case "$line" in
    +*) groups["\${line#+}"]=1 ;;
    -*) unset "groups[\${line#-}]" ;;
  esac
done
[ "\${#groups[@]}" -eq 0 ] && exit 0
for g in "\${!groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null; done
for _ in $(seq 50); do
  alive=0
  for g in "\${!groups[@]}"; do kill -0 -- "-$g" 2>/dev/null && alive=1; done
  [ "$alive" -eq 0 ] && exit 0
  sleep 0.1
done
for g in "\${!groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null; done
`;

let reaper: ChildProcess | undefined;
let exitHookInstalled = false;

function reaperWrite(line: string): void {
  if (reaper === undefined || reaper.exitCode !== null || reaper.signalCode !== null) {
    reaper = spawn('bash', ['-c', REAPER_SCRIPT], {
      detached: true,
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    reaper.unref();
    // A broken pipe to a dead reaper must not crash the host process.
    reaper.stdin?.on('error', () => undefined);
    if (reaper.stdin instanceof Socket) reaper.stdin.unref();
    // Re-register the groups a previous (dead) reaper was watching.
    for (const pid of live.keys()) reaper.stdin?.write(`+${pid}\n`);
  }
  reaper.stdin?.write(`${line}\n`);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last chance on a normal exit; the reaper escalates to SIGKILL.
  process.on('exit', () => {
    for (const pid of live.keys()) signalGroup(pid, 'SIGTERM');
  });
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Processes started by this module that have not exited yet. */
export function liveProcesses(): readonly ManagedProcess[] {
  return [...live.values()];
}

export function readTail(path: string, maxBytes: number): string {
  try {
    const text = readFileSync(path);
    return text.subarray(Math.max(0, text.length - maxBytes)).toString('utf8');
  } catch {
    return '';
  }
}

/** Starts `command` in a new process group, logging to `logPath`. */
export function startProcess(options: StartOptions): ManagedProcess {
  installExitHook();
  const fd = openSync(options.logPath, 'a');
  let child: ChildProcess;
  try {
    writeSync(fd, `--- ${new Date().toISOString()} ${options.command} ${options.args.join(' ')}\n`);
    child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      detached: true,
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  let info: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (error) => {
      info ??= { code: 127, signal: null };
      if (child.pid !== undefined) live.delete(child.pid);
      writeLog(options.logPath, `--- failed to start: ${error.message}\n`);
      resolve(info);
    });
    child.once('exit', (code, signal) => {
      info ??= { code, signal };
      if (child.pid !== undefined) {
        live.delete(child.pid);
        // The group may hold no one else, but a forked grandchild would keep it.
        signalGroup(child.pid, 'SIGKILL');
        reaperWrite(`-${child.pid}`);
      }
      resolve(info);
    });
  });
  child.unref();
  const pid = child.pid ?? -1;
  let stopping: Promise<ExitInfo> | undefined;
  const managed: ManagedProcess = {
    name: options.name,
    pid,
    logPath: options.logPath,
    exited,
    exitInfo: () => info,
    logTail: (maxBytes = 4000) => readTail(options.logPath, maxBytes),
    stop(graceMs = 10_000) {
      stopping ??= (async () => {
        if (info !== undefined || pid < 0) return exited;
        signalGroup(pid, 'SIGTERM');
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<'timeout'>((resolve) => {
          timer = setTimeout(() => resolve('timeout'), graceMs);
        });
        const first = await Promise.race([exited, timedOut]);
        clearTimeout(timer);
        if (first === 'timeout') signalGroup(pid, 'SIGKILL');
        return exited;
      })();
      return stopping;
    },
  };
  if (pid > 0) {
    live.set(pid, managed);
    reaperWrite(`+${pid}`);
  }
  return managed;
}

function writeLog(path: string, text: string): void {
  try {
    const fd = openSync(path, 'a');
    try {
      writeSync(fd, text);
    } finally {
      closeSync(fd);
    }
  } catch {
    // The log is best effort; the exit is reported through `exited` anyway.
  }
}
