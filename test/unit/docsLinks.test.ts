/**
 * The Markdown links of the README and of docs/*.md resolve: every relative
 * link names a file or folder of the repository, and every `#anchor` names a
 * heading of its page as GitHub slugs it.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"

const root = Path.resolve(import.meta.dirname, "..", "..")

/** The pages checked: the README and every page of docs/ (not the generated docs/api/). */
const pages = [
  "README.md",
  ...Fs.readdirSync(Path.join(root, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)
]

/** A page's text without its fenced code blocks and inline code, where a `](` is not a link. */
const prose = (text: string) => text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, "").replace(/`[^`\n]*`/g, "")

/** The anchors GitHub gives a page's headings (a repeated heading gets `-1`, `-2`…). */
const anchorsOf = (text: string) => {
  const seen = new Map<string, number>()
  const anchors = new Set<string>()
  for (const [, heading = ""] of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-")
    const count = seen.get(slug) ?? 0
    seen.set(slug, count + 1)
    anchors.add(count === 0 ? slug : `${slug}-${count}`)
  }
  return anchors
}

/** The targets of a page's inline links and images, external ones left out. */
const linksOf = (text: string) =>
  [...prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)]
    .map((match) => match[1] ?? "")
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))

/** What is wrong with one link of `page`, or undefined if it resolves. */
const brokenLink = (page: string, target: string): string | undefined => {
  const [path = "", anchor] = target.split("#", 2)
  const file = path === "" ? Path.join(root, page) : Path.resolve(Path.dirname(Path.join(root, page)), path)
  if (!file.startsWith(root) || !Fs.existsSync(file)) return `${page}: ${target}: no such file`
  if (anchor === undefined || anchor === "") return undefined
  if (!file.endsWith(".md")) return `${page}: ${target}: an anchor into a file that is not Markdown`
  return anchorsOf(Fs.readFileSync(file, "utf8")).has(anchor) ? undefined : `${page}: ${target}: no such heading`
}

describe("the docs' links", () => {
  it("every relative link and anchor of README.md and docs/*.md resolves", () => {
    const broken = pages.flatMap((page) =>
      linksOf(Fs.readFileSync(Path.join(root, page), "utf8")).flatMap((target) => brokenLink(page, target) ?? [])
    )
    assert.deepStrictEqual(broken, [])
  })

  it("the checker sees a broken file, a broken anchor, and a good anchor", () => {
    assert.strictEqual(brokenLink("README.md", "docs/nowhere.md"), "README.md: docs/nowhere.md: no such file")
    assert.strictEqual(brokenLink("README.md", "#no-such-heading"), "README.md: #no-such-heading: no such heading")
    assert.strictEqual(brokenLink("README.md", "#quick-start"), undefined)
    assert.strictEqual(brokenLink("docs/workers.md", "deploying.md#shared-state-over-redis"), undefined)
    assert.deepStrictEqual(linksOf("[a](b.md) `[c](d.md)` [e](https://x)\n```\n[f](g.md)\n```\n"), ["b.md"])
  })
})
