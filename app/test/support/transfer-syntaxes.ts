// Transfer Syntax UIDs the tests name, keyed by their PS3.6 Annex A (Table A-1) keywords, each
// with the standard's name. The one table for synthetic instances, the corpus and derived files.
export const TS = {
  /** Implicit VR Little Endian: Default Transfer Syntax for DICOM */
  implicitVRLittleEndian: "1.2.840.10008.1.2",
  /** Explicit VR Little Endian */
  explicitVRLittleEndian: "1.2.840.10008.1.2.1",
  /** Deflated Explicit VR Little Endian */
  deflatedExplicitVRLittleEndian: "1.2.840.10008.1.2.1.99",
  /** Explicit VR Big Endian (retired) */
  explicitVRBigEndian: "1.2.840.10008.1.2.2",
  /** JPEG Baseline (Process 1) */
  jpegBaseline8Bit: "1.2.840.10008.1.2.4.50",
  /** JPEG Extended (Process 2 & 4) */
  jpegExtended12Bit: "1.2.840.10008.1.2.4.51",
  /** JPEG Spectral Selection, Non-Hierarchical (Process 6 & 8) (retired) */
  jpegSpectralSelectionNonHierarchical68: "1.2.840.10008.1.2.4.53",
  /** JPEG Full Progression, Non-Hierarchical (Process 10 & 12) (retired) */
  jpegFullProgressionNonHierarchical1012: "1.2.840.10008.1.2.4.55",
  /** JPEG Lossless, Non-Hierarchical (Process 14) */
  jpegLossless: "1.2.840.10008.1.2.4.57",
  /** JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1]) */
  jpegLosslessSV1: "1.2.840.10008.1.2.4.70",
  /** JPEG-LS Lossless Image Compression */
  jpegLSLossless: "1.2.840.10008.1.2.4.80",
  /** JPEG-LS Lossy (Near-Lossless) Image Compression */
  jpegLSNearLossless: "1.2.840.10008.1.2.4.81",
  /** JPEG 2000 Image Compression (Lossless Only) */
  jpeg2000Lossless: "1.2.840.10008.1.2.4.90",
  /** JPEG 2000 Image Compression */
  jpeg2000: "1.2.840.10008.1.2.4.91",
  /** RLE Lossless */
  rleLossless: "1.2.840.10008.1.2.5",
} as const;

export type TransferSyntaxName = keyof typeof TS;

/** Part of the table under the same names, for tests that iterate over a chosen set. */
export function pickSyntaxes<K extends TransferSyntaxName>(names: readonly K[]): { [N in K]: (typeof TS)[N] } {
  return Object.fromEntries(names.map((n) => [n, TS[n]])) as { [N in K]: (typeof TS)[N] };
}
