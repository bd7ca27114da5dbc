/** busboy's header-value helpers (busboy 1.6 `lib/utils.js`), which server/form-data-parser.ts shares with busboy. */
declare module 'busboy/lib/utils.js' {
  type Decoder = (data: string | Buffer, hint: number) => string | undefined;
  interface Parsed {
    type: string;
    params: Record<string, string>;
  }
  const utils: {
    parseContentType(str: string | undefined): (Parsed & { subtype: string }) | undefined;
    parseDisposition(str: string, defDecoder: Decoder): Parsed | undefined;
    getDecoder(charset: string): Decoder | undefined;
    convertToUTF8(data: Buffer, charset: string, hint: number): string | undefined;
    basename(path: string): string;
  };
  export default utils;
}
