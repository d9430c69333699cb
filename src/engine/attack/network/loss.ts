// The training loss of the simulated client step.

/** Softmax cross-entropy with a one-hot label: loss, p, and δlogits = p − e_y written into `delta`. */
export function softmaxCrossEntropy(logits: Float64Array, label: number, probabilities: Float64Array, delta: Float64Array): number {
  let max = -Infinity;
  for (let k = 0; k < logits.length; k++) max = Math.max(max, logits[k]);
  let sum = 0;
  for (let k = 0; k < logits.length; k++) {
    probabilities[k] = Math.exp(logits[k] - max);
    sum += probabilities[k];
  }
  for (let k = 0; k < logits.length; k++) {
    probabilities[k] /= sum;
    delta[k] = probabilities[k] - (k === label ? 1 : 0);
  }
  return Math.log(sum) + max - logits[label];
}
