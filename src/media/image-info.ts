/** What the image probe reports, and the one error type it throws. */

export type ImageFormat = 'png' | 'jpeg' | 'gif' | 'bmp';

export interface ImageInfo {
  format: ImageFormat;
  width: number;
  height: number;
  mimeType: string;
  extension: string;
}

export type ImageProbeFailure = 'unsupported_format' | 'malformed' | 'truncated';

export class ImageProbeError extends Error {
  readonly reason: ImageProbeFailure;

  constructor(reason: ImageProbeFailure, message?: string) {
    super(message ?? reason);
    this.name = 'ImageProbeError';
    this.reason = reason;
  }
}

const FORMAT_META: Record<ImageFormat, { mimeType: string; extension: string }> = {
  png: { mimeType: 'image/png', extension: 'png' },
  jpeg: { mimeType: 'image/jpeg', extension: 'jpg' },
  gif: { mimeType: 'image/gif', extension: 'gif' },
  bmp: { mimeType: 'image/bmp', extension: 'bmp' },
};

export function imageInfo(format: ImageFormat, width: number, height: number): ImageInfo {
  return Object.freeze({ format, width, height, ...FORMAT_META[format] });
}

export function malformed(message: string): ImageProbeError {
  return new ImageProbeError('malformed', message);
}
