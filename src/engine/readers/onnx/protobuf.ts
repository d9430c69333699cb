// protobufjs set-up and int64 helpers. Bundled by webpack, protobufjs cannot find `long` on its own and decodes
// int64 fields as lossy plain numbers; registering it here makes int64 decode as Long in every build (tooling.md §2).
import * as protobuf from 'protobufjs/minimal';
import Long from 'long';

protobuf.util.Long = Long;
protobuf.configure();

export type Int64 = Long | number | string;

/** An int64 field as a JS number (values beyond 2^53 lose precision; callers that need exact sizes check it). */
export function toNumber(value: Int64 | null | undefined): number {
  if (value === null || value === undefined) return 0;
  if (Long.isLong(value)) return (value as Long).toNumber();
  return Number(value);
}
