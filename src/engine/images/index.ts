// Images for the reconstruction attack: file decoding/encoding, resizing, model inputs, quality metrics, display.
export * from './codec';
export * from './convert';
export * from './resize';
export * from './modelInput';
export * from './quality';
export * from './composite';
