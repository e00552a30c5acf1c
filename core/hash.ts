import { hash } from "node:crypto";

/** Hex sha256 of a string (UTF-8) or bytes. One-shot `crypto.hash`: no Hash object per call. */
export function sha256(data: string | Uint8Array): string {
  return hash("sha256", data, "hex");
}
