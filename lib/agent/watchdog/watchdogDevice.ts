import { closeSync, constants, openSync, readFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';

/**
 * A Linux watchdog device (/dev/watchdog: a hardware or hypervisor watchdog, or softdog).
 * Opening it starts the kernel's countdown; every write restarts it; closing after writing
 * 'V' (the "magic close") stops it. If the writes stop, because this process, the agent or the
 * whole kernel hangs or the VM is paused, the kernel (or the hypervisor) resets the host. If
 * the process ends without the magic close (a crash), the countdown goes on and the host resets,
 * unless the driver lacks magic close support; either way a dead watchdog process is not a
 * stopped watchdog.
 *
 * Only writes, no ioctl (Node has none): the timeout is the driver's (softdog's `soft_margin`
 * module parameter, or `wdctl --settimeout` before the agent starts); it is read from sysfs,
 * where the kernel publishes it, to warn when it is too long to matter for the lease.
 */
export class WatchdogDevice {
  private fd: number | null = null;

  constructor(readonly path: string) {}

  get isOpen(): boolean {
    return this.fd !== null;
  }

  /** Open the device (starting its countdown); the reason when it can't be (missing, busy: one opener only). */
  open(): { ok: true; timeoutS: number | null } | { ok: false; reason: string } {
    if (this.fd !== null) return { ok: true, timeoutS: this.timeoutS() };
    try {
      // Never O_CREAT: a missing device must fail, not leave a plain file that resets nothing.
      this.fd = openSync(this.path, constants.O_WRONLY);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? 'error';
      const hint = code === 'ENOENT' ? ' (no watchdog driver: load softdog, or configure none)' : code === 'EBUSY' ? ' (another process holds it, e.g. systemd with RuntimeWatchdogSec)' : '';
      return { ok: false, reason: `cannot open ${this.path}: ${code}${hint}` };
    }
    return { ok: true, timeoutS: this.timeoutS() };
  }

  /** One keepalive: restarts the kernel's countdown. */
  keepalive(): { ok: true } | { ok: false; reason: string } {
    if (this.fd === null) return { ok: false, reason: `${this.path} is not open` };
    try {
      writeSync(this.fd, '1');
      return { ok: true };
    } catch (e) {
      return { ok: false, reason: `keepalive to ${this.path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
    }
  }

  /** The magic close: 'V' then close, so the kernel stops counting. */
  disarm(): { ok: true } | { ok: false; reason: string } {
    if (this.fd === null) return { ok: true };
    const fd = this.fd;
    this.fd = null;
    try {
      writeSync(fd, 'V');
      closeSync(fd);
      return { ok: true };
    } catch (e) {
      return { ok: false, reason: `magic close of ${this.path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` };
    }
  }

  /** The device's timeout as the kernel publishes it (/sys/class/watchdog/watchdogN/timeout), or null. */
  timeoutS(): number | null {
    const name = basename(this.path) === 'watchdog' ? 'watchdog0' : basename(this.path);
    try {
      const s = Number(readFileSync(`/sys/class/watchdog/${name}/timeout`, 'utf8').trim());
      return Number.isFinite(s) ? s : null;
    } catch {
      return null;
    }
  }
}
