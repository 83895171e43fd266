// Transport shim for running the official Commerce Layer JS clients against a Kassa server.
//
// @commercelayer/js-auth 8.x always posts to `https://auth.<domain>/oauth/token` through the
// global `fetch`, and @commercelayer/sdk 7.x always builds `https://<slug>.<domain>/api/...`.
// Neither can be told to use plain http or a loopback port. This module provides a fetch
// function that recognises those two URL shapes (any https host ending in `.<domain>`),
// sends them to KASSA_BASE_URL instead (keeping path and query), and passes every other URL
// through untouched. It also keeps the last exchanges so a failing step can show exactly
// what was sent and what came back.
//
// Usage:
//   const transport = installKassaFetch({ baseUrl, domain })   // patches globalThis.fetch
//   CommerceLayer({ accessToken, organization, domain, fetch: transport.fetch })

const KEEP_EXCHANGES = 20
const BODY_PREVIEW_LIMIT = 4000

function redactAuthorization(value) {
	if (!value) return value
	const [scheme, token] = String(value).split(' ', 2)
	if (!token) return '<redacted>'
	return `${scheme} ${token.slice(0, 16)}…(${token.length} chars)`
}

function preview(text) {
	if (text == null) return text
	const s = String(text)
	return s.length > BODY_PREVIEW_LIMIT ? `${s.slice(0, BODY_PREVIEW_LIMIT)}…(${s.length} chars)` : s
}

const SECRET_BODY_KEYS = ['client_secret', 'password', 'refresh_token', 'customer_password']

// Token requests carry credentials; keep them out of failure reports.
function redactBody(text) {
	if (typeof text !== 'string') return text
	try {
		const json = JSON.parse(text)
		if (json && typeof json === 'object' && !Array.isArray(json)) {
			let changed = false
			for (const key of SECRET_BODY_KEYS) {
				if (key in json) {
					json[key] = '<redacted>'
					changed = true
				}
			}
			if (changed) return JSON.stringify(json)
		}
	} catch {
		// not JSON: leave as is
	}
	return text
}

function headersToObject(headers) {
	const out = {}
	headers.forEach((value, key) => {
		out[key] = key === 'authorization' ? redactAuthorization(value) : value
	})
	return out
}

/**
 * Work out where a client URL should really go.
 * Returns null when the URL is not one of the Commerce Layer shapes for `domain`.
 */
export function rewriteUrl(url, { baseUrl, domain }) {
	const u = new URL(String(url))
	const host = u.host.toLowerCase()
	const suffix = `.${String(domain).toLowerCase()}`
	if (u.protocol !== 'https:' || !host.endsWith(suffix) || host.length === suffix.length) return null
	const base = new URL(baseUrl)
	const basePath = base.pathname.replace(/\/+$/, '')
	const target = new URL(`${base.origin}${basePath}${u.pathname}${u.search}`)
	return { target, originalHost: u.host, subdomain: host.slice(0, -suffix.length) }
}

/**
 * Build a fetch-compatible function that routes Commerce Layer URLs to `baseUrl`.
 * `realFetch` is the fetch used for the actual network call (defaults to the current global).
 */
export function createKassaFetch({ baseUrl, domain, realFetch = globalThis.fetch }) {
	if (!baseUrl) throw new Error('createKassaFetch: baseUrl is required')
	if (!domain) throw new Error('createKassaFetch: domain is required')
	const nativeFetch = realFetch
	const exchanges = []
	let total = 0

	async function kassaFetch(input, init = {}) {
		const isRequest = typeof Request !== 'undefined' && input instanceof Request
		const originalUrl = isRequest ? input.url : String(input)
		const route = rewriteUrl(originalUrl, { baseUrl, domain })
		if (!route) return nativeFetch(input, init)

		const headers = new Headers(isRequest ? input.headers : undefined)
		new Headers(init.headers || {}).forEach((value, key) => headers.set(key, value))
		// fetch() silently drops a caller-supplied Host header, so the name the client meant
		// to reach travels in the X-Forwarded-* headers instead.
		headers.set('X-Forwarded-Host', route.originalHost)
		headers.set('X-Forwarded-Proto', 'https')

		const method = (init.method || (isRequest ? input.method : 'GET')).toUpperCase()
		let body = init.body
		if (body === undefined && isRequest && !['GET', 'HEAD'].includes(method)) body = await input.text()

		const exchange = {
			method,
			originalUrl,
			url: route.target.toString(),
			requestHeaders: headersToObject(headers),
			requestBody: typeof body === 'string' ? preview(redactBody(body)) : body == null ? undefined : '<non-text body>',
		}
		exchanges.push(exchange)
		total += 1
		if (exchanges.length > KEEP_EXCHANGES) exchanges.shift()

		const forwardedInit = { ...init, method, headers, body }
		let response
		try {
			response = await nativeFetch(route.target, forwardedInit)
		} catch (err) {
			exchange.networkError = `${err?.name || 'Error'}: ${err?.message}${err?.cause ? ` (cause: ${err.cause.code || err.cause.message || err.cause})` : ''}`
			throw err
		}
		exchange.status = response.status
		exchange.statusText = response.statusText
		exchange.responseHeaders = headersToObject(response.headers)
		exchange.responseBody = preview(await response.clone().text().catch((e) => `<unreadable body: ${e.message}>`))
		return response
	}

	return {
		fetch: kassaFetch,
		exchanges,
		/** How many requests were routed so far (the kept list is capped). */
		count() {
			return total
		},
		last() {
			return exchanges[exchanges.length - 1]
		},
		/** Human-readable dump of the last exchange (request and response). */
		describeLast() {
			return describeExchange(exchanges[exchanges.length - 1])
		},
	}
}

export function describeExchange(ex) {
	if (!ex) return '  (no HTTP exchange was recorded)'
	const lines = []
	lines.push(`  request:  ${ex.method} ${ex.url}`)
	if (ex.originalUrl !== ex.url) lines.push(`            (client asked for ${ex.originalUrl})`)
	lines.push(`  request headers: ${JSON.stringify(ex.requestHeaders)}`)
	if (ex.requestBody !== undefined) lines.push(`  request body: ${ex.requestBody}`)
	if (ex.networkError) {
		lines.push(`  network error: ${ex.networkError}`)
		return lines.join('\n')
	}
	lines.push(`  response: ${ex.status} ${ex.statusText || ''}`.trimEnd())
	lines.push(`  response headers: ${JSON.stringify(ex.responseHeaders)}`)
	lines.push(`  response body: ${ex.responseBody === '' ? '<empty>' : ex.responseBody}`)
	return lines.join('\n')
}

/**
 * Create the routing fetch and install it as `globalThis.fetch`, which is the only way to
 * redirect @commercelayer/js-auth (it has no fetch option). URLs outside `*.<domain>` keep
 * going to the original global fetch.
 */
export function installKassaFetch({ baseUrl, domain }) {
	const transport = createKassaFetch({ baseUrl, domain, realFetch: globalThis.fetch })
	globalThis.fetch = transport.fetch
	return transport
}
