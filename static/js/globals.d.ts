// What the pages' scripts find on `window` without importing it: the browser builds that
// templates load with a <script> tag before the module (static/vendor/, from package-lock.json),
// typed by the same npm packages, and the wallet that TronLink injects.
import type { Chart as ChartJs } from "chart.js";
import type HlsJs from "hls.js";
import type * as Tus from "tus-js-client";

declare global {
  /** A transaction as TronWeb builds it; the pages only pass it on, and read its id. */
  interface TronTransaction {
    txID: string;
    raw_data: unknown;
    raw_data_hex: string;
  }

  interface SignedTronTransaction extends TronTransaction {
    signature: string[];
  }

  /**
   * What the pages use of the TronWeb that TronLink injects (TronWeb's API; TIP-191 message
   * signing). Described here rather than taken from the tronweb package: the wallet brings its
   * own TronWeb, of whatever version, and the package's types would bring Node's with them.
   */
  interface InjectedTronWeb {
    defaultAddress?: { base58: string | false; hex: string | false };
    toUtf8(hex: string): string;
    trx: {
      sign(transaction: TronTransaction): Promise<SignedTronTransaction>;
      signMessageV2(message: string): Promise<string> | string;
      sendRawTransaction(
        signed: SignedTronTransaction,
      ): Promise<{ result?: boolean; code?: string; message?: string }>;
    };
    transactionBuilder: {
      triggerSmartContract(
        contract: string,
        functionSelector: string,
        options: { feeLimit: number },
        parameters: { type: string; value: string }[],
        issuer: string,
      ): Promise<{ result?: { result?: boolean }; transaction: TronTransaction }>;
      sendToken(to: string, amount: number, tokenId: string, from: string): Promise<TronTransaction>;
    };
  }

  /** TronLink's provider object (the extension, or TronLink's own browser). */
  interface TronLink {
    /** `false` until TronLink has an unlocked account to offer. */
    tronWeb?: InjectedTronWeb | false;
    /** Requests such as tron_requestAccounts; 4001 in `code` means the user declined. */
    request?(args: { method: string }): Promise<{ code?: number; message?: string } | undefined>;
  }

  interface Window {
    /** chart.umd.min.js (the studio dashboard); missing when it failed to load. */
    Chart?: typeof ChartJs;
    /** hls.min.js (the live page, for browsers without native HLS); missing when not loaded. */
    Hls?: typeof HlsJs;
    /** tus.min.js, loaded by the upload page before upload.js. */
    tus: typeof Tus;
    tronLink?: TronLink;
    /** Older TronLink versions and wallets that inject only TronWeb. */
    tronWeb?: InjectedTronWeb | false;
  }
}
