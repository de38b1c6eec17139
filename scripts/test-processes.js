// Finding and killing what a test file started, from /proc (Linux): by an environment marker its
// processes inherit (Chromium and the devserver keep it even once re-parented to init), and by
// process group and parentage (a child that cleared its environment).
import { readdirSync, readFileSync } from "node:fs";

/** Every process: pid, parent, group and command name. */
function processTable() {
  const table = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
      const close = stat.lastIndexOf(")");
      const [, ppid, pgrp] = stat.slice(close + 2).split(" ");
      table.push({ pid: Number(entry), ppid: Number(ppid), pgrp: Number(pgrp), comm: stat.slice(stat.indexOf("(") + 1, close) });
    } catch {
      // Gone meanwhile.
    }
  }
  return table;
}

/** Pids of processes whose environment holds `name=value`. */
export function findMarked(name, value) {
  const needle = Buffer.from(`${name}=${value}\0`);
  const found = [];
  for (const { pid } of processTable()) {
    if (pid === process.pid) continue;
    try {
      if (readFileSync(`/proc/${pid}/environ`).includes(needle)) found.push(pid);
    } catch {
      // Another user's process, or gone.
    }
  }
  return found;
}

/** The process group led by `leader` and every descendant of its members. */
export function groupAndDescendants(leader) {
  const table = processTable();
  const found = new Set(table.filter((p) => p.pgrp === leader || p.pid === leader).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of table) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return [...found];
}

/** SIGKILL each (one forked after the listing still carries the marker: the runner's leftover scan gets it). */
export function killProcesses(pids) {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/** "chromium ×4, devserver ×1 (pids 12, 13, …)" */
export function describeProcesses(pids) {
  const names = new Map(processTable().map((p) => [p.pid, p.comm]));
  const counts = new Map();
  for (const pid of pids) {
    const name = names.get(pid) ?? "exited";
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const list = [...pids];
  return `${[...counts].map(([name, count]) => `${name} ×${count}`).join(", ")} (pids ${list.slice(0, 8).join(", ")}${list.length > 8 ? ", …" : ""})`;
}
