// Symbolic dimensions. A graph dimension is a number or a named size known only at run time
// ("batch", "seq", "past"), so one traced graph serves every batch size and sequence length.
// Symbolic dims are integer polynomials over the names, kept in a canonical text form
// ("past+seq", "batch*seq", "4*seq"), so concatenating, flattening and slicing stay exact and two
// dims are equal exactly when their texts are. Backends bind the names from their inputs' shapes.
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";

export type Dim = number | string;
export type Dims = readonly Dim[];

/** monomial ("" for the constant term, else names sorted and joined by '*') -> coefficient. */
type Polynomial = Map<string, number>;

const NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;

export function isSymbolicName(name: string): boolean {
  return NAME.test(name);
}

function parse(dim: Dim): Polynomial {
  const poly: Polynomial = new Map();
  if (typeof dim === "number") {
    if (dim !== 0) poly.set("", dim);
    return poly;
  }
  // Terms are separated by '+' and '-' (names never contain them); spaces are allowed around
  // them, so ONNX's "past_sequence_length + sequence_length" reads as a dim too.
  const terms = dim.replace(/\s+/g, "").replace(/-/g, "+-").split("+").filter((term) => term.length > 0);
  if (terms.length === 0) throw new InvalidArgumentError("dim", `'${dim}' is not a dimension`);
  for (const term of terms) {
    const negative = term.startsWith("-");
    let coefficient = negative ? -1 : 1;
    const names: string[] = [];
    for (const factor of (negative ? term.slice(1) : term).split("*")) {
      if (/^\d+$/.test(factor)) coefficient *= Number(factor);
      else if (NAME.test(factor)) names.push(factor);
      else throw new InvalidArgumentError("dim", `'${dim}' is not a dimension (bad factor '${factor}')`);
    }
    addTerm(poly, names.sort().join("*"), coefficient);
  }
  return poly;
}

function addTerm(poly: Polynomial, monomial: string, coefficient: number): void {
  const sum = (poly.get(monomial) ?? 0) + coefficient;
  if (sum === 0) poly.delete(monomial);
  else poly.set(monomial, sum);
}

function format(poly: Polynomial): Dim {
  const monomials = [...poly.keys()].sort((a, b) => (a === "" ? 1 : b === "" ? -1 : a < b ? -1 : a > b ? 1 : 0));
  if (monomials.length === 0) return 0;
  if (monomials.length === 1 && monomials[0] === "") return poly.get("")!;
  let text = "";
  for (const monomial of monomials) {
    const coefficient = poly.get(monomial)!;
    const magnitude = Math.abs(coefficient);
    const body = monomial === "" ? String(magnitude) : magnitude === 1 ? monomial : `${magnitude}*${monomial}`;
    text += coefficient < 0 ? `-${body}` : text.length > 0 ? `+${body}` : body;
  }
  return text;
}

/** The canonical form of a dim: "seq+past" and "past+seq" both become "past+seq". */
export function dim(value: Dim): Dim {
  return format(parse(value));
}

export function isStatic(value: Dim): value is number {
  return typeof value === "number";
}

export function allStatic(dims: Dims): dims is readonly number[] {
  return dims.every(isStatic);
}

export function dimEquals(a: Dim, b: Dim): boolean {
  return typeof a === "number" && typeof b === "number" ? a === b : format(parse(a)) === format(parse(b));
}

export function dimAdd(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a + b;
  const poly = parse(a);
  for (const [monomial, coefficient] of parse(b)) addTerm(poly, monomial, coefficient);
  return format(poly);
}

export function dimSub(a: Dim, b: Dim): Dim {
  return dimAdd(a, dimMul(b, -1));
}

export function dimMul(a: Dim, b: Dim): Dim {
  if (typeof a === "number" && typeof b === "number") return a * b;
  const poly: Polynomial = new Map();
  for (const [ma, ca] of parse(a)) {
    for (const [mb, cb] of parse(b)) {
      const names = [...(ma ? ma.split("*") : []), ...(mb ? mb.split("*") : [])].sort();
      addTerm(poly, names.join("*"), ca * cb);
    }
  }
  return format(poly);
}

/** The product of dims: a tensor's element count. */
export function dimProduct(dims: Dims): Dim {
  return dims.reduce<Dim>((product, d) => dimMul(product, d), 1);
}

/** a / b when it divides exactly term by term (b a single term), else undefined. */
export function dimDivide(a: Dim, b: Dim): Dim | undefined {
  if (typeof a === "number" && typeof b === "number") return b !== 0 && a % b === 0 ? a / b : undefined;
  const divisor = parse(b);
  if (divisor.size !== 1) return dimEquals(a, b) ? 1 : undefined;
  const [[divisorMonomial, divisorCoefficient]] = [...divisor] as [[string, number]];
  const quotient: Polynomial = new Map();
  for (const [monomial, coefficient] of parse(a)) {
    const names = monomial ? monomial.split("*") : [];
    for (const name of divisorMonomial ? divisorMonomial.split("*") : []) {
      const at = names.indexOf(name);
      if (at < 0) return undefined;
      names.splice(at, 1);
    }
    if (coefficient % divisorCoefficient !== 0) return undefined;
    addTerm(quotient, names.join("*"), coefficient / divisorCoefficient);
  }
  return format(quotient);
}

/** The terms of a dim: coefficient times a product of names (no names for the constant term). */
export function dimTerms(value: Dim): { coefficient: number; names: string[] }[] {
  return [...parse(value)].map(([monomial, coefficient]) => ({ coefficient, names: monomial ? monomial.split("*") : [] }));
}

export function showDims(dims: Dims): string {
  return `[${dims.join(", ")}]`;
}

/** Run-time values of the names in a graph's dims. */
export type DimBindings = ReadonlyMap<string, number>;

/** The value of a dim under `bindings`; throws naming the missing name. */
export function evaluateDim(value: Dim, bindings: DimBindings): number {
  if (typeof value === "number") return value;
  let total = 0;
  for (const [monomial, coefficient] of parse(value)) {
    let term = coefficient;
    for (const name of monomial ? monomial.split("*") : []) {
      const bound = bindings.get(name);
      if (bound === undefined) throw new InvalidArgumentError("dim", `'${name}' (in ${value}) is not bound by any input's shape`);
      term *= bound;
    }
    total += term;
  }
  return total;
}

export function evaluateDims(dims: Dims, bindings: DimBindings): number[] {
  return dims.map((d) => evaluateDim(d, bindings));
}

/**
 * Binds the names of a graph's input dims from the shapes given at run time, checking every
 * number and expression: the run-time shape check of both backends. `inputs` pairs each
 * declared shape with the given one, by input name.
 */
export function bindDims(
  inputs: Iterable<readonly [name: string, declared: Dims, given: readonly number[]]>,
  fail: (name: string, expected: string, given: string) => Error = (name, expected, given) =>
    new ShapeMismatchError(`input '${name}'`, `expected ${expected}, got ${given}`),
): Map<string, number> {
  const bindings = new Map<string, number>();
  const checks: [string, Dims, readonly number[]][] = [];
  for (const [name, declared, given] of inputs) {
    if (declared.length !== given.length) throw fail(name, showDims(declared), showDims(given));
    declared.forEach((d, axis) => {
      if (typeof d === "string" && NAME.test(d) && !bindings.has(d)) bindings.set(d, given[axis]!);
    });
    checks.push([name, declared, given]);
  }
  for (const [name, declared, given] of checks) {
    const expected = evaluateDims(declared, bindings);
    if (expected.some((d, axis) => d !== given[axis])) {
      const detail = allStatic(declared) ? "" : ` (${showDims(declared)} with ${[...bindings].map(([n, v]) => `${n}=${v}`).join(", ")})`;
      throw fail(name, `${showDims(expected)}${detail}`, showDims(given));
    }
  }
  return bindings;
}
