/** A generated recipe repository for the compile benchmark (and anything else that needs a big one). */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const TEMPLATES = 50;

/** A repository of `total` resources in 10 recipes: dirs, 1 KiB files, templated files, links, packages, execs. */
export function generateRepo(dir: string, count: number, inline = false): void {
  const recipes = 10;
  const per = Math.ceil(count / recipes);
  const rules = [
    '- name: "*"',
    `  recipes: [${Array.from({ length: recipes }, (_, i) => `r${i}`).join(", ")}]`,
    "- name: bench-*",
    "  vars: { port: 8080 }",
  ];
  writeFileSync(join(dir, "nodes.yaml"), `${rules.join("\n")}\n`);
  let made = 0;
  for (let r = 0; r < recipes; r++) {
    const rdir = join(dir, `r${r}`);
    mkdirSync(join(rdir, "templates"), { recursive: true });
    for (let k = 0; k < TEMPLATES / recipes; k++) {
      writeFileSync(
        join(rdir, "templates", `t${k}.conf.liquid`),
        `# {{ node }} on {{ facts.os.id }} {{ facts.os.version_id }}\nport = {{ vars.port }}\nname = {{ vars.app_name }}\n{% for i in (1..5) %}line {{ i }} of template ${r}-${k}\n{% endfor %}`,
      );
    }
    const lines = ["description: generated", "vars: { port: 80, app_name: bench }", "resources:"];
    const root = `/srv/bench/r${r}`;
    lines.push(`  - file: ${root}`, "    ensure: directory", '    mode: "0755"');
    made++;
    for (let i = 0; i < per - 1 && made < count; i++, made++) {
      const d = `${root}/d${Math.floor(i / 100)}`;
      if (i % 100 === 0) {
        lines.push(`  - file: ${d}`, "    ensure: directory", '    mode: "0755"', "    owner: root");
        continue;
      }
      if (i % 20 === 1) {
        // Every template of the recipe in turn (i % 20 === 1 makes i % 5 always 1: one template
        // of five was ever rendered).
        lines.push(
          `  - file: ${d}/t${i}.conf`,
          `    template: t${Math.floor(i / 20) % (TEMPLATES / recipes)}.conf.liquid`,
          '    mode: "0644"',
        );
      } else if (i % 97 === 2) {
        lines.push(`  - file: ${d}/latest-${i}`, `    target: ${d}/f${i - 1}.txt`);
      } else if (i % 499 === 3) {
        lines.push(`  - exec: /usr/bin/touch ${d}/done-${i}`, `    creates: ${d}/done-${i}`);
      } else if (i % 997 === 4) {
        lines.push(`  - package: pkg-${r}-${i}`);
      } else {
        const body = `file ${r}/${i} `.padEnd(1023, "x");
        // A real repository keeps file contents in files/; --inline puts them in the YAML instead.
        if (inline) lines.push(`  - file: ${d}/f${i}.txt`, `    content: "${body}\\n"`);
        else {
          mkdirSync(join(rdir, "files"), { recursive: true });
          writeFileSync(join(rdir, "files", `f${i}.txt`), `${body}\n`);
          lines.push(`  - file: ${d}/f${i}.txt`, `    source: files/f${i}.txt`);
        }
        lines.push('    mode: "0644"', "    owner: root", "    group: root");
      }
    }
    writeFileSync(join(rdir, "recipe.yaml"), `${lines.join("\n")}\n`);
  }
}
