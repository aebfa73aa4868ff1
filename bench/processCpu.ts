import fs from 'node:fs';

function statFields(pid: number): string[] {
  // Fields from the 3rd on (state, ppid, …): the name in parentheses may hold spaces.
  return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
}

/** CPU time a process has used so far (user + system), in seconds (Linux). */
export function cpuSeconds(pid: number): number {
  // utime + stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100/s on Linux).
  const fields = statFields(pid);
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU time of a process and all its children, living and ended, in seconds:
 * PostgreSQL's, whose work is done by a backend per connection under the
 * postmaster. Ended children count through the parent's cutime and cstime
 * (fields 16 and 17), living ones are read one by one.
 */
export function treeCpuSeconds(pid: number): number {
  const fields = statFields(pid);
  let ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(Number(entry))[1]) === pid) ticks += treeCpuSeconds(Number(entry)) * 100;
    } catch {
      // Ended while we looked.
    }
  }
  return ticks / 100;
}
