/** Point-in-time history a prod Neon project keeps at least: a week to find and undo a bad write (the pack and the validator). */
export const MIN_PROD_HISTORY_SECONDS = 7 * 24 * 3600;
