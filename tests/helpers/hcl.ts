/**
 * A reader for the subset of HCL that `docker-bake.hcl` uses, giving the same object as bake's JSON form
 * (`{"variable": {...}, "group": {...}, "target": {...}}`), so the static tests read what `docker buildx bake` reads.
 *
 * Supported: blocks with one label (`target "name" { ... }`), attributes `key = value` where a value is a string
 * (`"..."` with `\"`, `\\`, `\n` escapes; `${...}` kept as written, as bake interpolates it), a number, `true`/`false`,
 * a list `[a, b]` or an object `{ key = value, "quoted key" = value }`; `#` and `//` comments. Anything else throws,
 * naming the line.
 */

type Value = string | number | boolean | Value[] | { [k: string]: Value };

class Reader {
  private i = 0;
  constructor(private readonly text: string) {}

  private line(): number {
    return this.text.slice(0, this.i).split('\n').length;
  }

  fail(what: string): never {
    throw new Error(`docker-bake.hcl line ${this.line()}: ${what}`);
  }

  skip(): void {
    for (;;) {
      const rest = this.text.slice(this.i);
      const m = /^(\s+|#[^\n]*|\/\/[^\n]*)/.exec(rest);
      if (!m) return;
      this.i += m[0].length;
    }
  }

  eof(): boolean {
    this.skip();
    return this.i >= this.text.length;
  }

  peek(): string {
    this.skip();
    return this.text[this.i] ?? '';
  }

  expect(ch: string): void {
    if (this.peek() !== ch) this.fail(`expected ${JSON.stringify(ch)}, found ${JSON.stringify(this.text.slice(this.i, this.i + 10))}`);
    this.i++;
  }

  ident(): string {
    this.skip();
    const m = /^[A-Za-z_][\w-]*/.exec(this.text.slice(this.i));
    if (!m) this.fail('expected a name');
    this.i += m[0].length;
    return m[0];
  }

  string(): string {
    this.expect('"');
    let out = '';
    for (;;) {
      const c = this.text[this.i++];
      if (c === undefined) this.fail('unterminated string');
      if (c === '"') return out;
      if (c === '\\') {
        const e = this.text[this.i++];
        out += e === 'n' ? '\n' : e === 't' ? '\t' : (e ?? '');
      } else out += c;
    }
  }

  value(): Value {
    const c = this.peek();
    if (c === '"') return this.string();
    if (c === '[') {
      this.i++;
      const list: Value[] = [];
      while (this.peek() !== ']') {
        list.push(this.value());
        if (this.peek() === ',') this.i++;
      }
      this.i++;
      return list;
    }
    if (c === '{') {
      this.i++;
      const obj: { [k: string]: Value } = {};
      while (this.peek() !== '}') {
        const key = this.peek() === '"' ? this.string() : this.ident();
        if (this.peek() === '=' || this.peek() === ':') this.i++;
        else this.fail('expected "=" in an object');
        obj[key] = this.value();
        if (this.peek() === ',') this.i++;
      }
      this.i++;
      return obj;
    }
    const m = /^(-?\d+(\.\d+)?|true|false)\b/.exec(this.text.slice(this.i));
    if (!m) this.fail('expected a value');
    this.i += m[0].length;
    return m[0] === 'true' ? true : m[0] === 'false' ? false : Number(m[0]);
  }
}

/**
 * Parses the bake file's text into bake's JSON form.
 * @throws Error naming the line of anything outside the subset
 */
export function parseBakeHcl(text: string): Record<string, Record<string, Record<string, Value>>> {
  const r = new Reader(text);
  const out: Record<string, Record<string, Record<string, Value>>> = {};
  while (!r.eof()) {
    const kind = r.ident();
    const label = r.string();
    r.expect('{');
    const body: Record<string, Value> = {};
    while (r.peek() !== '}') {
      const key = r.ident();
      r.expect('=');
      body[key] = r.value();
    }
    r.expect('}');
    (out[kind] ??= {})[label] = body;
  }
  return out;
}
