/** One `file` part in a multipart/form-data body, built once into a single Buffer (sent with a Content-Length). */
import { randomBytes } from 'node:crypto';

export const newBoundary = () => `----bench${randomBytes(8).toString('hex')}`;

export function filePart(data, filename, contentType, boundary = newBoundary()) {
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: ${contentType}\r\n\r\n`,
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return { contentType: `multipart/form-data; boundary=${boundary}`, body: Buffer.concat([head, data, tail]) };
}
