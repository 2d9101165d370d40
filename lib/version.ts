/** The kit's version, recorded in every file it writes. */
export const KIT_VERSION = "0.1.0";
