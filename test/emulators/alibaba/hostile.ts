/**
 * A cloud endpoint in the hands of a tenant: whatever host a hostile `regionId` or endpoint makes the client
 * call. It answers every request with a gzip bomb: a small `content-encoding: gzip` body that inflates to a
 * huge one (issue 15: "a 1.5 MB gzip bomb that inflates to 1.6 GB in the SDK").
 *
 * The body is streamed: one gzip member deflating `MEMBER_BYTES` zero bytes is compressed once (about 16 KB)
 * and written again and again. RFC 1952 §2.2 lets a gzip file be a series of members, and Node's zlib (which
 * inflates for fetch, undici and node-fetch) decompresses every member in turn, so the receiver inflates the
 * whole size while the emulator never holds more than one member.
 */
import type { ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';

/** Uncompressed bytes in one gzip member: 16 MiB of zeros, about 16 KB compressed (deflate's 1032:1 limit). */
const MEMBER_BYTES = 16 * 1024 * 1024;
let member: Buffer | undefined;
const memberBytes = (): Buffer => (member ??= gzipSync(Buffer.alloc(MEMBER_BYTES), { level: 9 }));

/** What a gzip bomb of `inflatedBytes` (rounded up to whole members) sends and inflates to. */
export function gzipBombSize(inflatedBytes: number): { compressed: number; inflated: number } {
  const members = Math.max(1, Math.ceil(inflatedBytes / MEMBER_BYTES));
  return { compressed: members * memberBytes().length, inflated: members * MEMBER_BYTES };
}

/** Writes a gzip bomb of (at least) `inflatedBytes` to `res`, honouring back-pressure, with a JSON content type. */
export function sendGzipBomb(res: ServerResponse, inflatedBytes: number, status = 200): void {
  const { compressed } = gzipBombSize(inflatedBytes);
  const chunk = memberBytes();
  let left = compressed / chunk.length;
  res.writeHead(status, {
    'content-type': 'application/json;charset=utf-8',
    'content-encoding': 'gzip',
    'content-length': String(compressed),
  });
  const pump = (): void => {
    while (left > 0) {
      left--;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => {
    left = 0;
  });
  pump();
}
