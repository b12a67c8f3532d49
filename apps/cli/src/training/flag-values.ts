// Parsers for the numeric flags of train and eval: a bad value is a one-line usage error naming
// the flag, raised by commander before any work starts.
import { InvalidArgumentError } from "commander";

export const positiveInteger = (flag: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw new InvalidArgumentError(`${flag} must be a positive integer, got '${value}'`);
  return parsed;
};

export const nonNegativeInteger = (flag: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 0) throw new InvalidArgumentError(`${flag} must be a non-negative integer, got '${value}'`);
  return parsed;
};

/** Seeds are uint32s, as the data package's shuffles take them. */
export const seedValue = (flag: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 0xffffffff) throw new InvalidArgumentError(`${flag} must be an integer in [0, 4294967295], got '${value}'`);
  return parsed;
};

export const positiveNumber = (flag: string) => (value: string) => {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError(`${flag} must be a positive number, got '${value}'`);
  return parsed;
};

export const nonNegativeNumber = (flag: string) => (value: string) => {
  const parsed = Number(value);
  if (value.trim() === "" || !Number.isFinite(parsed) || parsed < 0) throw new InvalidArgumentError(`${flag} must be a non-negative number, got '${value}'`);
  return parsed;
};

/** A weight in [0, 1], both ends included. */
export const unitInterval = (flag: string) => (value: string) => {
  const parsed = Number(value);
  if (value.trim() === "" || !(parsed >= 0 && parsed <= 1)) throw new InvalidArgumentError(`${flag} must be a number from 0 to 1, got '${value}'`);
  return parsed;
};

/** A share strictly between 0 and 1, e.g. the held-out fraction. */
export const fraction = (flag: string) => (value: string) => {
  const parsed = Number(value);
  if (value.trim() === "" || !(parsed > 0 && parsed < 1)) throw new InvalidArgumentError(`${flag} must be a number between 0 and 1 (exclusive), got '${value}'`);
  return parsed;
};
