// xhr2 ships no types; only what the dicomweb-client test reads is declared.
declare module "xhr2" {
  export default class XMLHttpRequest {
    readonly status: number;
    readonly responseText: string;
    getResponseHeader(name: string): string | null;
  }
}
