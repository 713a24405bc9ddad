// Types for xhr2 (it ships none): the XMLHttpRequest it exports, with the
// members test/xhr.ts uses, its private ones included.
declare module "xhr2" {
  import type { IncomingMessage } from "node:http";

  class XMLHttpRequest {
    static readonly LOADING: number;
    readyState: number;
    response: unknown;
    responseText: string | null;
    responseType: string;
    protected _response: IncomingMessage | null;
    protected _responseParts: Buffer[] | null;
    protected _loadedBytes: number;
    protected _setReadyState(state: number): void;
    protected _dispatchProgress(eventType: string): void;
    protected _onHttpResponseData(response: IncomingMessage, data: Buffer): void;
  }
  export default XMLHttpRequest;
}
