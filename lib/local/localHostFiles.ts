import { join, resolve } from 'node:path';
import { hostFiles, type HostFiles } from '../host/hostFiles.ts';

/** Where local mode keeps the host files (TLS, passwords, passfile) of its one machine. */
export function localHostFiles(workDir: string): HostFiles {
  return hostFiles(join(resolve(workDir), 'host'));
}
