/**
 * `hostname`: the short host name, the kernel's name up to the first dot (as Puppet's `hostname`
 * and Ansible's `ansible_hostname`); the full name, when the kernel has one, is the `fqdn` fact.
 */
import type { Host } from "./host.js";

export function shortHostname(name: string): string {
  return name.split(".", 1)[0] ?? name;
}

export function readHostname(host: Host): string {
  return shortHostname(host.hostname());
}
