export const median = (numbers: readonly number[]): number => {
  const sorted = [...numbers].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] ?? NaN : ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2
}

export const min = (numbers: readonly number[]): number => numbers.length === 0 ? NaN : Math.min(...numbers)
export const max = (numbers: readonly number[]): number => numbers.length === 0 ? NaN : Math.max(...numbers)

/** Two decimals below 10, one above. */
export const fixed = (n: number): string => n.toFixed(Math.abs(n) < 10 ? 2 : 1)

/** "0.31 (0.29–0.33)": the median and the min–max of several rounds (the median alone for one). */
export const spread = (numbers: readonly number[], digits = 2): string =>
  numbers.length > 1 ? `${median(numbers).toFixed(digits)} (${min(numbers).toFixed(digits)}–${max(numbers).toFixed(digits)})` : median(numbers).toFixed(digits)
