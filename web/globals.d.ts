/** What the page's bundler provides (scripts/build-web.ts): 3Dmol.js's source as text. */
declare module '3dmol/build/3Dmol-min.js' {
  const source: string;
  export default source;
}

interface Window {
  /** the last run's SDF and metrics JSON (the page's test contract, web/main.ts) */
  edmResult?: { sdf: string; metrics: string };
}
