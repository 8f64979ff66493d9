// The `debug` package (httpx's and the @alicloud SDKs' HTTP trace) ships no types; acr-fleet uses its `log` hook only.
declare module 'debug' {
  interface Debug {
    /** Where every enabled namespace writes (node: stderr); replaceable. */
    log: (...args: unknown[]) => unknown;
  }
  const debug: Debug;
  export default debug;
}
