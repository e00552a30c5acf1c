import { execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import os from "node:os";
import t from "tap";
import { countCpuList, readCpus } from "../../agent/facts/cpus.js";
import { fqdnFromHosts, readFqdn, searchDomains } from "../../agent/facts/fqdn.js";
import { type Host, localHost } from "../../agent/facts/host.js";
import { shortHostname } from "../../agent/facts/hostname.js";
import { gatherFacts } from "../../agent/facts/index.js";
import { ipv4Addresses } from "../../agent/facts/ipv4.js";
import { parseMemTotalMb, readMemoryMb } from "../../agent/facts/memory_mb.js";
import { osFamily, parseOsRelease, readOs } from "../../agent/facts/os.js";

// Real os-release files of each family (trimmed to the fields facts read).
const osReleases = [
  {
    distro: "Debian 12",
    text: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n',
    os: { id: "debian", version_id: "12", family: "debian", name: "Debian GNU/Linux" },
  },
  {
    distro: "Ubuntu 22.04",
    text: 'NAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n',
    os: { id: "ubuntu", version_id: "22.04", family: "debian", name: "Ubuntu" },
  },
  {
    distro: "Linux Mint, known only through ID_LIKE",
    text: 'NAME="Linux Mint"\nVERSION_ID="21.3"\nID=linuxmint\nID_LIKE="ubuntu debian"\n',
    os: { id: "linuxmint", version_id: "21.3", family: "debian", name: "Linux Mint" },
  },
  {
    distro: "Rocky 9",
    text: 'NAME="Rocky Linux"\nVERSION_ID="9.3"\nID="rocky"\nID_LIKE="rhel centos fedora"\n',
    os: { id: "rocky", version_id: "9.3", family: "redhat", name: "Rocky Linux" },
  },
  {
    distro: "AlmaLinux 9",
    text: 'NAME="AlmaLinux"\nVERSION_ID="9.4"\nID="almalinux"\nID_LIKE="rhel centos fedora"\n',
    os: { id: "almalinux", version_id: "9.4", family: "redhat", name: "AlmaLinux" },
  },
  {
    distro: "Fedora 40",
    text: 'NAME="Fedora Linux"\nVERSION_ID=40\nID=fedora\n',
    os: { id: "fedora", version_id: "40", family: "redhat", name: "Fedora Linux" },
  },
  {
    distro: "Amazon Linux 2023",
    text: 'NAME="Amazon Linux"\nVERSION_ID="2023"\nID="amzn"\nID_LIKE="fedora"\n',
    os: { id: "amzn", version_id: "2023", family: "redhat", name: "Amazon Linux" },
  },
  {
    distro: "Alpine 3.19",
    text: 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
    os: { id: "alpine", version_id: "3.19.1", family: "alpine", name: "Alpine Linux" },
  },
  {
    distro: "openSUSE Leap",
    text: 'NAME="openSUSE Leap"\nVERSION_ID="15.5"\nID="opensuse-leap"\nID_LIKE="suse opensuse"\n',
    os: { id: "opensuse-leap", version_id: "15.5", family: "suse", name: "openSUSE Leap" },
  },
  {
    distro: "Arch, no VERSION_ID and an unknown family",
    text: 'NAME="Arch Linux"\nID=arch\nBUILD_ID=rolling\n',
    os: { id: "arch", version_id: "", family: "arch", name: "Arch Linux" },
  },
  {
    distro: "an empty file, with os-release(5)'s defaults",
    text: "",
    os: { id: "linux", version_id: "", family: "linux", name: "Linux" },
  },
];

t.test("os: each distribution's os-release file gives its id, version, family and name", async (t) => {
  for (const c of osReleases) {
    const root = t.testdir({ etc: { "os-release": c.text } });
    t.same(readOs(localHost({ root })), c.os, c.distro);
  }
});

t.test("os: /usr/lib/os-release is read when /etc has none", async (t) => {
  const root = t.testdir({ usr: { lib: { "os-release": "ID=alpine\nVERSION_ID=3.20.0\n" } } });
  t.same(readOs(localHost({ root })), {
    id: "alpine",
    version_id: "3.20.0",
    family: "alpine",
    name: "Linux",
  });
});

t.test("os: no os-release at all gives the documented defaults", async (t) => {
  t.same(readOs(localHost({ root: t.testdir({}) })), {
    id: "linux",
    version_id: "",
    family: "linux",
    name: "Linux",
  });
});

t.test("os: quoting and escapes are read as /bin/sh reads them", async (t) => {
  const text = [
    "# a comment",
    "",
    'NAME="Tricky \\"Quoted\\" \\$HOME \\\\ Linux"',
    "ID='single'",
    "VERSION_ID=1.0",
    'PRETTY_NAME="has = sign"',
    "  ",
  ].join("\n");
  const root = t.testdir({ "os-release": text });
  const shell = execFileSync(
    "sh",
    ["-c", '. ./os-release && printf "%s\\n" "$NAME" "$ID" "$VERSION_ID" "$PRETTY_NAME"'],
    {
      cwd: root,
      encoding: "utf8",
    },
  );
  const f = parseOsRelease(text);
  t.same([f.NAME, f.ID, f.VERSION_ID, f.PRETTY_NAME, ""].join("\n"), shell);
});

t.test("os: the family comes from ID before ID_LIKE, in ID_LIKE's order", async (t) => {
  t.equal(osFamily("centos", "rhel fedora"), "redhat");
  t.equal(osFamily("pop", "ubuntu debian"), "debian");
  t.equal(osFamily("weird", "unknown alpine debian"), "alpine");
  t.equal(osFamily("nixos"), "nixos");
  t.equal(osFamily("Debian"), "debian", "case does not matter");
});

t.test("hostname: the short name is the kernel name up to the first dot", async (t) => {
  t.equal(shortHostname("web-1.example.com"), "web-1");
  t.equal(shortHostname("web-1"), "web-1");
});

const hostsCases = [
  {
    why: "the Debian installer's line",
    hosts: "127.0.0.1 localhost\n127.0.1.1 web-1.example.com web-1\n",
    want: "web-1.example.com",
  },
  { why: "the full name as an alias", hosts: "10.0.0.5\tweb-1   web-1.lan # office\n", want: "web-1.lan" },
  { why: "case-insensitive match", hosts: "10.0.0.5 WEB-1.Example.com Web-1\n", want: "WEB-1.Example.com" },
  { why: "never localhost", hosts: "127.0.0.1 localhost localhost.localdomain web-1\n", want: undefined },
  { why: "another host's full name", hosts: "10.0.0.9 db.example.com web-1\n", want: undefined },
  { why: "a commented-out line", hosts: "# 127.0.1.1 web-1.example.com web-1\n", want: undefined },
  {
    why: "only the first line naming the host counts",
    hosts: "127.0.0.1 web-1\n10.0.0.5 web-1.example.com web-1\n",
    want: undefined,
  },
  { why: "the host is not there", hosts: "127.0.0.1 localhost\n", want: undefined },
];

t.test("fqdn: /etc/hosts gives the full name on the line that names the host", async (t) => {
  for (const c of hostsCases) t.equal(fqdnFromHosts(c.hosts, "web-1"), c.want, c.why);
});

t.test("fqdn: the search list is the last search or domain line", async (t) => {
  t.same(searchDomains("nameserver 1.1.1.1\nsearch a.example b.example.\n"), ["a.example", "b.example"]);
  t.same(searchDomains("search a.example\ndomain c.example\n"), ["c.example"]);
  t.same(searchDomains("nameserver 1.1.1.1\n"), []);
});

/** A host on a temp root with a fixed kernel name and a scripted DNS. */
function fakeHost(
  root: string,
  name: string,
  dns: Record<string, string[] | "hang">,
): Host & { asked: string[] } {
  const asked: string[] = [];
  return {
    ...localHost({ root }),
    hostname: () => name,
    asked,
    resolve4: (query) => {
      asked.push(query);
      const answer = dns[query];
      if (answer === "hang") return new Promise<string[]>(() => {});
      return answer ? Promise.resolve(answer) : Promise.reject(new Error(`ENOTFOUND ${query}`));
    },
  };
}

t.test("fqdn: a dotted kernel name is the fqdn and nothing is read", async (t) => {
  const host = fakeHost(t.testdir({ etc: { hosts: "10.0.0.5 other.example web-1\n" } }), "web-1.corp", {});
  t.equal(await readFqdn(host), "web-1.corp");
  t.same(host.asked, []);
});

t.test("fqdn: /etc/hosts wins over DNS", async (t) => {
  const root = t.testdir({
    etc: { hosts: "127.0.1.1 web-1.example.com web-1\n", "resolv.conf": "search corp\n" },
  });
  const host = fakeHost(root, "web-1", { "web-1.corp": ["10.0.0.5"] });
  t.equal(await readFqdn(host), "web-1.example.com");
  t.same(host.asked, [], "no DNS query");
});

t.test("fqdn: DNS picks the first search domain in which the host resolves", async (t) => {
  const root = t.testdir({
    etc: { hosts: "127.0.0.1 localhost\n", "resolv.conf": "search a.example b.example c.example\n" },
  });
  const host = fakeHost(root, "web-1", { "web-1.b.example": ["10.0.0.5"], "web-1.c.example": ["10.0.0.6"] });
  t.equal(await readFqdn(host), "web-1.b.example");
  t.same(host.asked, ["web-1.a.example", "web-1.b.example", "web-1.c.example"], "asked at once, in order");
});

t.test("fqdn: without a domain anywhere it is the host name", async (t) => {
  const host = fakeHost(t.testdir({ etc: { hosts: "127.0.0.1 localhost web-1\n" } }), "web-1", {});
  t.equal(await readFqdn(host), "web-1");
  t.same(host.asked, []);
});

t.test("fqdn: a DNS server that never answers costs only the deadline", async (t) => {
  const root = t.testdir({ etc: { "resolv.conf": "search slow.example\n" } });
  const host = fakeHost(root, "web-1", { "web-1.slow.example": "hang" });
  const started = performance.now();
  t.equal(await readFqdn(host, { timeoutMs: 100 }), "web-1");
  const took = performance.now() - started;
  t.ok(took >= 95 && took < 1000, `gave up after ${Math.round(took)} ms`);
  t.equal(await readFqdn(host, { timeoutMs: 0 }), "web-1", "timeout 0 skips DNS");
});

t.test("fqdn: the real resolver is cancelled at the deadline (a silent UDP name server)", async (t) => {
  const silent = createSocket("udp4");
  let queries = 0;
  silent.on("message", () => queries++);
  await new Promise<void>((resolve) => silent.bind(0, "127.0.0.1", resolve));
  t.teardown(() => silent.close());
  const root = t.testdir({ etc: { "resolv.conf": "search silent.example\n" } });
  const server = `127.0.0.1:${silent.address().port}`;
  const host = { ...localHost({ root, dnsServers: [server] }), hostname: () => "web-1" };
  const started = performance.now();
  t.equal(await readFqdn(host, { timeoutMs: 150 }), "web-1");
  const took = performance.now() - started;
  t.ok(took < 1000, `gave up after ${Math.round(took)} ms`);
  t.ok(queries >= 1, "the query reached the server");
});

t.test("cpus: the kernel's online cpu list is counted", async (t) => {
  const cases: [string, number | undefined][] = [
    ["0\n", 1],
    ["0-3\n", 4],
    ["0-3,6,8-9\n", 7],
    ["", undefined],
    ["garbage", undefined],
    ["3-1", undefined],
  ];
  for (const [text, want] of cases) t.equal(countCpuList(text), want, JSON.stringify(text));
  const root = t.testdir({ sys: { devices: { system: { cpu: { online: "0-5\n" } } } } });
  t.equal(readCpus({ ...localHost({ root }), cpuCount: () => 99 }), 6);
  t.equal(readCpus({ ...localHost({ root: t.testdir({}) }), cpuCount: () => 3 }), 3, "node:os without /sys");
});

t.test("memory_mb: MemTotal of /proc/meminfo in MiB, rounded down", async (t) => {
  const meminfo = "MemTotal:        2041580 kB\nMemFree:          123456 kB\n";
  t.equal(parseMemTotalMb(meminfo), 1993);
  t.equal(parseMemTotalMb("MemFree: 1 kB\n"), undefined);
  const root = t.testdir({ proc: { meminfo } });
  t.equal(readMemoryMb({ ...localHost({ root }), totalMemory: () => 1 }), 1993);
  const bare = { ...localHost({ root: t.testdir({}) }), totalMemory: () => 3 * 2 ** 30 + 5 };
  t.equal(readMemoryMb(bare), 3072, "node:os without /proc");
});

t.test("ipv4: non-loopback IPv4 addresses in interface order, each once", async (t) => {
  const nic = (address: string, family: "IPv4" | "IPv6", internal = false) => ({
    address,
    family,
    internal,
    netmask: "",
    mac: "",
    cidr: null,
    ...(family === "IPv6" ? { scopeid: 0 } : {}),
  });
  const interfaces = {
    lo: [nic("127.0.0.1", "IPv4", true), nic("::1", "IPv6", true)],
    eth0: [nic("10.0.0.5", "IPv4"), nic("fd00::5", "IPv6"), nic("10.0.0.6", "IPv4")],
    docker0: [nic("172.17.0.1", "IPv4")],
    tun0: [nic("127.0.0.9", "IPv4"), nic("10.0.0.5", "IPv4")],
  } as unknown as ReturnType<typeof os.networkInterfaces>;
  t.same(ipv4Addresses(interfaces), ["10.0.0.5", "10.0.0.6", "172.17.0.1"]);
  t.same(ipv4Addresses({}), []);
});

t.test("gatherFacts on this machine agrees with node:os and /etc/os-release", async (t) => {
  const facts = await gatherFacts();
  t.equal(facts.hostname, os.hostname().split(".")[0]);
  t.equal(facts.arch, os.machine());
  t.equal(facts.kernel, os.release());
  t.equal(facts.cpus, os.cpus().length);
  t.equal(facts.memory_mb, Math.floor(os.totalmem() / 2 ** 20));
  const expectedIpv4 = Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a?.family === "IPv4" && !a.internal)
    .map((a) => a?.address);
  t.same(facts.ipv4, [...new Set(expectedIpv4)]);
  const shell = execFileSync(
    "sh",
    ["-c", '. /etc/os-release && printf "%s\\n%s\\n%s" "$ID" "$VERSION_ID" "$NAME"'],
    {
      encoding: "utf8",
    },
  );
  t.same([facts.os.id, facts.os.version_id, facts.os.name].join("\n"), shell);
  t.equal(facts.os.family, osFamily(facts.os.id, parseOsRelease(shell).ID_LIKE));
  t.ok(facts.fqdn === facts.hostname || facts.fqdn.startsWith(`${facts.hostname}.`), `fqdn ${facts.fqdn}`);
  t.same(Object.keys(facts), ["hostname", "fqdn", "os", "arch", "kernel", "cpus", "memory_mb", "ipv4"]);
});

/** What `hostname -f` prints, or why it cannot be compared with the fqdn fact here. */
function hostnameF(): { expected?: string; skip: string | false } {
  let expected: string;
  try {
    expected = execFileSync("hostname", ["-f"], { encoding: "utf8", timeout: 10_000 }).trim();
  } catch {
    return { skip: "`hostname -f` is not available here" };
  }
  // `hostname -f` answers `localhost` or a CNAME target on some boxes; tend deliberately does not.
  if (expected.split(".")[0] !== shortHostname(os.hostname()))
    return { skip: `\`hostname -f\` says ${expected}` };
  return { expected, skip: false };
}

const hostnameFOnThisBox = hostnameF();
t.test(
  "the fqdn on this machine is what `hostname -f` prints",
  { skip: hostnameFOnThisBox.skip },
  async (t) => {
    t.equal((await gatherFacts()).fqdn, hostnameFOnThisBox.expected);
  },
);
