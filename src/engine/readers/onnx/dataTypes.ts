// ONNX tensor data types: how each is stored, decoded and named.
import { onnx } from 'onnx-proto';
import { halfToFloat } from '../../float16';

type TypedField = 'floatData' | 'int32Data' | 'int64Data' | 'doubleData' | 'uint64Data';

export interface DataTypeInfo {
  name: string;
  bytes: number;
  /** Reads one little-endian element. */
  read: (view: DataView, offset: number) => number;
  /** Typed field holding the values when raw_data is not used. */
  field: TypedField;
  /** Converts a typed-field entry (float16/bfloat16 are stored as their bit patterns in int32_data). */
  fromField?: (value: number) => number;
}

const T = onnx.TensorProto.DataType;

export const DECODABLE: Record<number, DataTypeInfo> = {
  [T.FLOAT]: { name: 'float32', bytes: 4, read: (v, o) => v.getFloat32(o, true), field: 'floatData' },
  [T.UINT8]: { name: 'uint8', bytes: 1, read: (v, o) => v.getUint8(o), field: 'int32Data' },
  [T.INT8]: { name: 'int8', bytes: 1, read: (v, o) => v.getInt8(o), field: 'int32Data' },
  [T.UINT16]: { name: 'uint16', bytes: 2, read: (v, o) => v.getUint16(o, true), field: 'int32Data' },
  [T.INT16]: { name: 'int16', bytes: 2, read: (v, o) => v.getInt16(o, true), field: 'int32Data' },
  [T.INT32]: { name: 'int32', bytes: 4, read: (v, o) => v.getInt32(o, true), field: 'int32Data' },
  [T.INT64]: { name: 'int64', bytes: 8, read: (v, o) => Number(v.getBigInt64(o, true)), field: 'int64Data' },
  [T.BOOL]: { name: 'bool', bytes: 1, read: (v, o) => (v.getUint8(o) ? 1 : 0), field: 'int32Data' },
  [T.FLOAT16]: { name: 'float16', bytes: 2, read: (v, o) => halfToFloat(v.getUint16(o, true)), field: 'int32Data', fromField: halfToFloat },
  [T.DOUBLE]: { name: 'float64', bytes: 8, read: (v, o) => v.getFloat64(o, true), field: 'doubleData' },
  [T.UINT32]: { name: 'uint32', bytes: 4, read: (v, o) => v.getUint32(o, true), field: 'uint64Data' },
  [T.UINT64]: { name: 'uint64', bytes: 8, read: (v, o) => Number(v.getBigUint64(o, true)), field: 'uint64Data' },
  [T.BFLOAT16]: { name: 'bfloat16', bytes: 2, read: (v, o) => bfloat16ToFloat(v.getUint16(o, true)), field: 'int32Data', fromField: bfloat16ToFloat },
};

/** Types named in messages but not decoded (17 and up are newer than the onnx-proto schema). */
const UNDECODED_NAMES: Record<number, string> = {
  [T.STRING]: 'string',
  [T.COMPLEX64]: 'complex64',
  [T.COMPLEX128]: 'complex128',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
};

const INTEGER_TYPES = new Set<number>([T.UINT8, T.INT8, T.UINT16, T.INT16, T.INT32, T.INT64, T.BOOL, T.UINT32, T.UINT64]);

export function isIntegerType(dataType: number): boolean {
  return INTEGER_TYPES.has(dataType);
}

export function dataTypeName(dataType: number): string {
  return DECODABLE[dataType]?.name ?? UNDECODED_NAMES[dataType] ?? `data type ${dataType}`;
}

function bfloat16ToFloat(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits << 16);
  return view.getFloat32(0);
}
