// An XMLHttpRequest for Node that hands over the response as it arrives,
// as browsers do, for Google's grpc-web runtime.

import type { IncomingMessage } from "node:http";

import XHR2 from "xhr2";

/**
 * StreamingXHR is xhr2's XMLHttpRequest made to deliver a text response as
 * it arrives. xhr2 sets responseText only once the response has ended and
 * fires readystatechange once in the LOADING state; browsers (the WHATWG
 * XMLHttpRequest standard, "process response body") update it and fire
 * readystatechange for every chunk. grpc-web's text mode reads each
 * message from responseText on readystatechange, so without this no
 * server stream would show a message before it ended.
 */
export class StreamingXHR extends XHR2 {
  /** contentTypes are the content types of the responses with a body, in order. */
  static readonly contentTypes: string[] = [];

  protected override _onHttpResponseData(response: IncomingMessage, data: Buffer): void {
    if (this._response !== response || this._responseParts === null) {
      return;
    }
    if (this._responseParts.length === 0) {
      StreamingXHR.contentTypes.push(response.headers["content-type"] ?? "");
    }
    this._responseParts.push(data);
    this._loadedBytes += data.length;
    if (this.responseType === "" || this.responseType === "text") {
      this.responseText = Buffer.concat(this._responseParts).toString("utf8");
      this.response = this.responseText;
    }
    this._setReadyState(XHR2.LOADING);
    this._dispatchProgress("progress");
  }
}

/** installXHR makes StreamingXHR the global XMLHttpRequest, which grpc-web uses. */
export function installXHR(): void {
  (globalThis as { XMLHttpRequest?: unknown }).XMLHttpRequest = StreamingXHR;
}
