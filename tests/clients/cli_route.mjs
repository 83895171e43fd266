// Preload module that lets the official Commerce Layer CLI (`@commercelayer/cli` and its
// plugins, unchanged) talk to a Kassa server on the loopback interface.
//
// Why a preload: the CLI builds every URL itself, as https://<slug>.<domain>/api/... for the
// core API and https://auth.<domain>/oauth/token (and /oauth/revoke) for tokens. Its hidden
// `--domain` option (stored with `applications:login -d <domain>`) changes <domain>, but the
// scheme stays https and the port 443, and the names must resolve. Pointing them at a local
// server otherwise needs root (/etc/hosts and a listener on 443) or a TLS proxy with its own
// certificate authority. Every HTTP call of the CLI, its SDK and its auth library goes
// through Node's global `fetch`, so this module, loaded before the CLI with
//
//   NODE_OPTIONS='--import /abs/path/tests/clients/cli_route.mjs'
//
// replaces `globalThis.fetch` with the routing fetch of kassa_fetch.mjs: a request for any
// https host ending in `.<KASSA_DOMAIN>` is sent, over plain HTTP, to KASSA_BASE_URL with the
// same method, path, query, headers and body. Nothing else leaves the process: a request for
// another URL fails with a message naming it (the CLI's update check is off, see below).
//
// Environment:
//   KASSA_BASE_URL    where Kassa listens, e.g. http://127.0.0.1:8080
//   KASSA_DOMAIN      the domain given to `applications:login -d` (Kassa's KASSA_DOMAIN)
//   KASSA_CLI_TRACE   optional file: one line per routed request, "METHOD url -> status"
//
// Run the CLI with NO_UPDATE_NOTIFIER=1 too, so it does not look for a newer version on npm.

import { appendFileSync } from 'node:fs'
import { createKassaFetch } from './kassa_fetch.mjs'

const baseUrl = process.env.KASSA_BASE_URL
const domain = process.env.KASSA_DOMAIN
if (!baseUrl || !domain) {
	process.stderr.write(
		'cli_route.mjs: set KASSA_BASE_URL (where Kassa listens) and KASSA_DOMAIN (the domain ' +
			'used with `applications:login -d`) before loading it with NODE_OPTIONS=--import\n',
	)
	process.exit(2)
}

const origin = new URL(baseUrl).origin
const nativeFetch = globalThis.fetch

/** The network fetch: only the Kassa server is reachable. */
function loopbackOnly(input, init) {
	const url = new URL(input instanceof Request ? input.url : String(input))
	if (url.origin !== origin) {
		return Promise.reject(
			new Error(`cli_route.mjs refused ${url.href}: only https://*.${domain} is routed (to ${baseUrl})`),
		)
	}
	return nativeFetch(input, init)
}

const transport = createKassaFetch({ baseUrl, domain, realFetch: loopbackOnly })
const trace = process.env.KASSA_CLI_TRACE

globalThis.fetch = async function routedFetch(input, init) {
	const before = transport.count()
	const response = await transport.fetch(input, init)
	if (trace && transport.count() > before) {
		const ex = transport.last()
		appendFileSync(trace, `${ex.method} ${ex.originalUrl} -> ${ex.url} ${ex.status}\n`)
	}
	return response
}
