export { FileStream } from './file-stream.js';
export { type FieldInfo, type FileInfo, type FormDataLimits, type FormDataOptions, FormDataParser } from './parser.js';
