#!/usr/bin/env node
// "Reusing the payment source" flow, driven end to end by the official Commerce Layer JS
// clients (@commercelayer/js-auth for tokens, @commercelayer/sdk for the core API) against a
// running Kassa server. Only the transport differs from a stock integration: see
// kassa_fetch.mjs and docs/clients-notes.md.
//
// Environment:
//   KASSA_BASE_URL             where Kassa listens, e.g. http://127.0.0.1:8080
//   KASSA_DOMAIN               the domain Kassa puts in tokens (iss = https://auth.<domain>)
//   ORG_SLUG                   organization slug
//   INTEGRATION_CLIENT_ID      integration application credentials
//   INTEGRATION_CLIENT_SECRET
//   SALES_CHANNEL_CLIENT_ID    sales channel application (public, no secret)
//   PROCESSOR_URL              <reference processor origin>/<account>: the gateway URLs are
//                              …/authorize, /capture, /void, /refund, /token; the script also
//                              gives the processor the gateway's shared_secret
//                              (PUT /_accounts/<account>) so every callout signature is checked
//
// After the seed flow it does what a storefront does next with the same clients: a paged
// list, a related list, a refresh_token grant and a DELETE.
//
// `node seed_flow.mjs --self-check` needs no server: it verifies that the transport rewrites
// the clients' URLs and that SDK clients construct with the configuration used below.
//
// Every step prints one line. On the first failure the step, the HTTP request and the
// response that did not match are printed and the process exits with status 1.

import {
	authenticate,
	getCoreApiBaseEndpoint,
	jwtDecode,
	jwtIsIntegration,
	jwtIsSalesChannel,
	jwtVerify,
} from '@commercelayer/js-auth'
import { CommerceLayer } from '@commercelayer/sdk/bundle'
import { describeExchange, installKassaFetch, rewriteUrl } from './kassa_fetch.mjs'

const REQUIRED_ENV = [
	'KASSA_BASE_URL',
	'KASSA_DOMAIN',
	'ORG_SLUG',
	'INTEGRATION_CLIENT_ID',
	'INTEGRATION_CLIENT_SECRET',
	'SALES_CHANNEL_CLIENT_ID',
	'PROCESSOR_URL',
]

class StepFailure extends Error {
	constructor(message, details) {
		super(message)
		this.name = 'StepFailure'
		this.details = details
	}
}

function expect(condition, message, details) {
	if (!condition) throw new StepFailure(message, details)
}

let stepNo = 0
let transport

async function step(title, fn) {
	stepNo += 1
	const label = `${String(stepNo).padStart(2, '0')} ${title}`
	const exchangesBefore = transport ? transport.count() : 0
	try {
		const { value, note } = (await fn()) ?? {}
		console.log(`ok   ${label}${note ? ` — ${note}` : ''}`)
		return value
	} catch (err) {
		console.log(`FAIL ${label}`)
		reportFailure(err, exchangesBefore)
		process.exit(1)
	}
}

function reportFailure(err, exchangesBefore) {
	if (err instanceof StepFailure) {
		console.log(`  assertion: ${err.message}`)
		if (err.details !== undefined) console.log(`  details: ${safeJson(err.details)}`)
	} else if (err?.name === 'ApiError') {
		// SdkError/ApiError from @commercelayer/sdk: status + JSON:API errors array
		console.log(`  sdk ApiError: status=${err.status} code=${err.code} message=${err.message}`)
		console.log(`  errors: ${safeJson(err.errors)}`)
	} else if (err?.name === 'SdkError') {
		console.log(`  sdk SdkError (${err.type}): ${err.message}${err.source ? ` — source: ${err.source.message || err.source}` : ''}`)
	} else {
		console.log(`  ${err?.stack || err}`)
	}
	const ex = transport?.last()
	if (!transport || transport.count() === exchangesBefore) {
		console.log('  (this step made no HTTP request)')
	} else {
		console.log(describeExchange(ex))
	}
}

function safeJson(v) {
	try {
		return JSON.stringify(v)
	} catch {
		return String(v)
	}
}

function readEnv() {
	const missing = REQUIRED_ENV.filter((k) => !process.env[k])
	if (missing.length) {
		console.error(`missing environment variables: ${missing.join(', ')}`)
		console.error(`required: ${REQUIRED_ENV.join(' ')}`)
		process.exit(2)
	}
	const env = Object.fromEntries(REQUIRED_ENV.map((k) => [k, process.env[k]]))
	env.PROCESSOR_URL = env.PROCESSOR_URL.replace(/\/+$/, '')
	return env
}

// js-auth returns OAuth errors in the result instead of throwing.
function checkAuth(auth, what) {
	expect(!auth.errors, `${what}: token endpoint answered with errors`, auth.errors)
	expect(typeof auth.accessToken === 'string' && auth.accessToken.split('.').length === 3, `${what}: no JWT access_token in response`, auth)
	expect(String(auth.tokenType).toLowerCase() === 'bearer', `${what}: token_type should be "bearer"`, auth.tokenType)
	expect(Number.isFinite(auth.expiresIn) && auth.expiresIn > 0, `${what}: expires_in should be a positive number`, auth.expiresIn)
}

function sdkClient(env, accessToken) {
	return CommerceLayer({
		organization: env.ORG_SLUG,
		domain: env.KASSA_DOMAIN,
		accessToken,
		fetch: transport.fetch,
	})
}

const address = (overrides = {}) => ({
	first_name: 'Ada',
	last_name: 'Lovelace',
	line_1: 'Via Roma 1',
	city: 'Firenze',
	zip_code: '50123',
	state_code: 'FI',
	country_code: 'IT',
	phone: '+39 055 000000',
	email: 'ada@example.com',
	...overrides,
})

// ---------------------------------------------------------------------------------------

async function selfCheck() {
	const domain = process.env.KASSA_DOMAIN || 'kassa.localhost'
	const baseUrl = process.env.KASSA_BASE_URL || 'http://127.0.0.1:8080'
	const slug = process.env.ORG_SLUG || 'acme'
	const auth = rewriteUrl(`https://auth.${domain}/oauth/token`, { baseUrl, domain })
	const api = rewriteUrl(`https://${slug}.${domain}/api/orders?include=line_items`, { baseUrl, domain })
	const other = rewriteUrl('https://example.com/x', { baseUrl, domain })
	if (!auth || !api || other) throw new Error('URL rewriting is broken')
	console.log(`ok   transport: https://auth.${domain}/oauth/token -> ${auth.target}`)
	console.log(`ok   transport: https://${slug}.${domain}/api/orders?include=line_items -> ${api.target}`)

	transport = installKassaFetch({ baseUrl, domain })
	// An unsigned token with Kassa's claim layout is enough to construct clients.
	const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
	const now = Math.floor(Date.now() / 1000)
	const fakeToken = [
		b64({ alg: 'RS512', typ: 'JWT', kid: 'self-check' }),
		b64({
			organization: { id: 'org1', slug, enterprise: false, region: 'eu-west-1' },
			application: { id: 'app1', kind: 'integration', public: false },
			scope: 'market:all',
			exp: now + 3600,
			iat: now,
			test: true,
			rand: 0.5,
			iss: `https://auth.${domain}`,
		}),
		'c2lnbmF0dXJl',
	].join('.')
	const cl = sdkClient({ ORG_SLUG: slug, KASSA_DOMAIN: domain }, fakeToken)
	const derived = CommerceLayer({ accessToken: fakeToken, fetch: transport.fetch })
	const resources = ['orders', 'line_items', 'addresses', 'external_payments', 'customer_payment_sources', 'markets',
		'skus', 'prices', 'stock_items', 'external_gateways', 'payment_methods', 'payment_gateways', 'customers',
		'price_lists', 'inventory_models', 'stock_locations', 'inventory_stock_locations', 'merchants', 'shipping_categories']
	for (const r of resources) if (typeof cl[r]?.create !== 'function' && typeof cl[r]?.list !== 'function') throw new Error(`sdk has no ${r}`)
	console.log(`ok   sdk: CommerceLayer({organization, domain, accessToken, fetch}) -> org ${cl.currentOrganization}, ${resources.length} resources`)
	console.log(`ok   sdk: organization taken from the token when omitted -> ${derived.currentOrganization}`)
	console.log(`ok   js-auth: getCoreApiBaseEndpoint(token) -> ${getCoreApiBaseEndpoint(fakeToken)}`)
	console.log(`ok   js-auth: jwtIsIntegration(decoded payload) -> ${jwtIsIntegration(jwtDecode(fakeToken).payload)}`)
}

// ---------------------------------------------------------------------------------------

async function main() {
	if (process.argv.includes('--self-check')) return selfCheck()

	const env = readEnv()
	const domain = env.KASSA_DOMAIN
	const run = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`
	transport = installKassaFetch({ baseUrl: env.KASSA_BASE_URL, domain })
	console.log(`# run ${run}: ${env.KASSA_BASE_URL} as https://{auth,${env.ORG_SLUG}}.${domain}`)

	// -- integration token -------------------------------------------------------------
	const integrationToken = await step('integration token (client_credentials)', async () => {
		const auth = await authenticate('client_credentials', {
			clientId: env.INTEGRATION_CLIENT_ID,
			clientSecret: env.INTEGRATION_CLIENT_SECRET,
			domain,
		})
		checkAuth(auth, 'client_credentials')
		const { header, payload } = jwtDecode(auth.accessToken)
		expect(header.alg === 'RS512', 'JWT header alg should be RS512', header)
		expect(jwtIsIntegration(payload), 'application.kind should be "integration"', payload.application)
		expect(payload.organization?.slug === env.ORG_SLUG, 'organization.slug should match ORG_SLUG', payload.organization)
		expect(payload.iss === `https://auth.${domain}`, `iss should be https://auth.${domain}`, payload.iss)
		const endpoint = getCoreApiBaseEndpoint(auth.accessToken)
		expect(endpoint === `https://${env.ORG_SLUG}.${domain}`, 'getCoreApiBaseEndpoint(token) mismatch', endpoint)
		return { value: auth.accessToken, note: `expires_in ${auth.expiresIn}s, endpoint ${endpoint}` }
	})

	await step('jwtVerify(integration token) against /.well-known/jwks.json', async () => {
		const verified = await jwtVerify(integrationToken)
		return { note: `kid ${verified.header.kid}` }
	})

	const cl = sdkClient(env, integrationToken)

	// -- catalogue and market (integration) ----------------------------------------------
	const priceList = await step('price_lists.create (EUR)', async () => {
		const r = await cl.price_lists.create({ name: `Kassa EUR ${run}`, code: `eur-${run}`, currency_code: 'EUR', tax_included: true })
		expect(r.id && r.type === 'price_lists', 'created resource has no id/type', r)
		expect(r.currency_code === 'EUR', 'currency_code should be EUR', r.currency_code)
		return { value: r, note: r.id }
	})

	const inventoryModel = await step('inventory_models.create', async () => {
		const r = await cl.inventory_models.create({ name: `Kassa inventory ${run}`, strategy: 'no_split', stock_locations_cutoff: 1 })
		expect(r.id, 'created resource has no id', r)
		return { value: r, note: r.id }
	})

	const stockLocation = await step('addresses.create + stock_locations.create', async () => {
		const addr = await cl.addresses.create(address({ business: true, company: 'Kassa Warehouse', first_name: undefined, last_name: undefined }))
		expect(addr.id, 'address has no id', addr)
		const r = await cl.stock_locations.create({
			name: `Kassa warehouse ${run}`,
			code: `wh-${run}`,
			address: cl.addresses.relationship(addr.id),
		})
		expect(r.id, 'stock location has no id', r)
		return { value: r, note: `${r.id} (address ${addr.id})` }
	})

	await step('inventory_stock_locations.create', async () => {
		const r = await cl.inventory_stock_locations.create({
			priority: 1,
			stock_location: cl.stock_locations.relationship(stockLocation.id),
			inventory_model: cl.inventory_models.relationship(inventoryModel.id),
		})
		expect(r.id, 'inventory stock location has no id', r)
		return { value: r, note: r.id }
	})

	const merchant = await step('addresses.create + merchants.create', async () => {
		const addr = await cl.addresses.create(address({ business: true, company: 'Kassa Merchant', first_name: undefined, last_name: undefined }))
		const r = await cl.merchants.create({ name: `Kassa merchant ${run}`, address: cl.addresses.relationship(addr.id) })
		expect(r.id, 'merchant has no id', r)
		return { value: r, note: r.id }
	})

	const market = await step('markets.create', async () => {
		const r = await cl.markets.create({
			name: `Kassa market ${run}`,
			code: `mkt-${run}`,
			merchant: cl.merchants.relationship(merchant.id),
			price_list: cl.price_lists.relationship(priceList.id),
			inventory_model: cl.inventory_models.relationship(inventoryModel.id),
		})
		expect(r.id && r.code === `mkt-${run}`, 'market code not echoed back', r)
		return { value: r, note: `${r.id} code ${r.code}` }
	})

	const shippingCategory = await step('shipping_categories.create', async () => {
		const r = await cl.shipping_categories.create({ name: `Kassa digital ${run}`, code: `digital-${run}` })
		expect(r.id, 'shipping category has no id', r)
		return { value: r, note: r.id }
	})

	const sku = await step('skus.create (do_not_ship)', async () => {
		const r = await cl.skus.create({
			code: `KASSA-${run}`.toUpperCase(),
			name: `Kassa e-book ${run}`,
			do_not_ship: true,
			shipping_category: cl.shipping_categories.relationship(shippingCategory.id),
		})
		expect(r.id && r.do_not_ship === true, 'sku not created with do_not_ship true', r)
		return { value: r, note: `${r.id} ${r.code}` }
	})

	await step('prices.create (4900)', async () => {
		const r = await cl.prices.create({
			amount_cents: 4900,
			price_list: cl.price_lists.relationship(priceList.id),
			sku: cl.skus.relationship(sku.id),
		})
		expect(r.amount_cents === 4900, 'amount_cents should be 4900', r.amount_cents)
		return { value: r, note: `${r.id} ${r.formatted_amount ?? ''}`.trim() }
	})

	await step('stock_items.create (qty 100)', async () => {
		const r = await cl.stock_items.create({
			quantity: 100,
			stock_location: cl.stock_locations.relationship(stockLocation.id),
			sku: cl.skus.relationship(sku.id),
		})
		expect(r.quantity === 100, 'quantity should be 100', r.quantity)
		return { value: r, note: r.id }
	})

	const gateway = await step('external_gateways.create', async () => {
		const p = env.PROCESSOR_URL
		const r = await cl.external_gateways.create({
			name: `Kassa fake processor ${run}`,
			authorize_url: `${p}/authorize`,
			capture_url: `${p}/capture`,
			void_url: `${p}/void`,
			refund_url: `${p}/refund`,
			token_url: `${p}/token`,
		})
		expect(r.id && r.token_url === `${p}/token`, 'gateway token_url not echoed back', r)
		expect(typeof r.shared_secret === 'string' && r.shared_secret.length > 0, 'gateway has no shared_secret', r)
		return { value: r, note: r.id }
	})

	await step('processor: register the gateway shared_secret (PUT /_accounts/<account>)', async () => {
		// Test-harness call to the reference processor, not a Commerce Layer client call:
		// from now on it rejects callouts whose X-CommerceLayer-Signature does not verify.
		const url = new URL(env.PROCESSOR_URL)
		const account = url.pathname.replace(/^\/+|\/+$/g, '')
		expect(account && !account.includes('/'), 'PROCESSOR_URL should be <processor origin>/<account>', env.PROCESSOR_URL)
		const res = await fetch(`${url.origin}/_accounts/${account}`, {
			method: 'PUT',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ shared_secret: gateway.shared_secret }),
		})
		expect(res.ok, `processor answered ${res.status}`, await res.text())
		return { note: account }
	})

	const paymentMethod = await step('payment_methods.create (external_payments, EUR)', async () => {
		const r = await cl.payment_methods.create({
			payment_source_type: 'external_payments',
			currency_code: 'EUR',
			price_amount_cents: 0,
			market: cl.markets.relationship(market.id),
			// The SDK types this relationship as the abstract `payment_gateways`.
			payment_gateway: cl.payment_gateways.relationship(gateway.id),
		})
		expect(r.id && r.payment_source_type === 'external_payments', 'payment method not created as external_payments', r)
		return { value: r, note: r.id }
	})

	const email = `kassa-${run}@example.com`
	const password = `Pw-${run}-secret`
	const customer = await step('customers.create', async () => {
		const r = await cl.customers.create({ email, password })
		expect(r.id && r.email === email, 'customer email not echoed back', r)
		return { value: r, note: `${r.id} ${email}` }
	})

	// -- customer token (sales channel, password grant) ----------------------------------
	const customerToken = await step('customer token (password grant, market:code scope)', async () => {
		const scope = `market:code:${market.code}`
		const auth = await authenticate('password', {
			clientId: env.SALES_CHANNEL_CLIENT_ID,
			username: email,
			password,
			scope,
			domain,
		})
		checkAuth(auth, 'password')
		expect(auth.ownerId === customer.id, 'owner_id should be the customer id', { ownerId: auth.ownerId, customer: customer.id })
		expect(String(auth.ownerType).toLowerCase() === 'customer', 'owner_type should be "customer"', auth.ownerType)
		expect(typeof auth.refreshToken === 'string' && auth.refreshToken.length > 0, 'refresh_token missing', auth.refreshToken)
		const { payload } = jwtDecode(auth.accessToken)
		expect(jwtIsSalesChannel(payload), 'application.kind should be "sales_channel"', payload.application)
		expect(payload.owner?.id === customer.id && payload.owner?.type === 'Customer', 'owner claim should be {id, type: "Customer"}', payload.owner)
		expect(Array.isArray(payload.market?.id) && payload.market.id.includes(market.id), 'market.id claim should list the market id', payload.market)
		return { value: auth.accessToken, note: `owner ${auth.ownerId}, scope ${auth.scope}` }
	})

	const cc = sdkClient(env, customerToken)

	// Shared cart steps for both orders.
	async function cart(label) {
		const order = await step(`${label}: orders.create`, async () => {
			const r = await cc.orders.create({ language_code: 'en' })
			expect(r.id && r.type === 'orders', 'order has no id', r)
			return { value: r, note: `${r.id} status ${r.status}` }
		})
		await step(`${label}: line_items.create (sku_code, qty 1)`, async () => {
			const r = await cc.line_items.create({ sku_code: sku.code, quantity: 1, order: cc.orders.relationship(order.id) })
			expect(r.id && r.quantity === 1, 'line item not created', r)
			return { value: r, note: `${r.id} ${r.formatted_total_amount ?? r.total_amount_cents ?? ''}`.trim() }
		})
		await step(`${label}: billing address + _shipping_address_same_as_billing`, async () => {
			const addr = await cc.addresses.create(address())
			const r = await cc.orders.update({
				id: order.id,
				billing_address: cc.addresses.relationship(addr.id),
				_shipping_address_same_as_billing: true,
			})
			expect(r.id === order.id, 'update returned another order', r)
			return { note: `address ${addr.id}` }
		})
		await step(`${label}: orders.update payment_method`, async () => {
			const r = await cc.orders.update(
				{ id: order.id, payment_method: cc.payment_methods.relationship(paymentMethod.id) },
				{ include: ['payment_method'] },
			)
			expect(r.payment_method?.id === paymentMethod.id, 'order.payment_method should be the external payment method', r.payment_method)
			return { note: paymentMethod.id }
		})
		return order
	}

	// -- first order: pay with a fresh token, place, save to wallet -----------------------
	const order1 = await cart('order 1')

	await step('order 1: external_payments.create (tok_abc)', async () => {
		const r = await cc.external_payments.create({ payment_source_token: 'tok_abc', order: cc.orders.relationship(order1.id) })
		expect(r.id && r.payment_source_token === 'tok_abc', 'payment_source_token not echoed back', r)
		return { value: r, note: r.id }
	})

	await step('order 1: orders.update _place', async () => {
		const r = await cc.orders.update({ id: order1.id, _place: true })
		expect(r.status === 'placed', 'order status should be placed', { status: r.status, payment_status: r.payment_status })
		expect(r.payment_status === 'authorized', 'payment_status should be authorized', { status: r.status, payment_status: r.payment_status })
		return { note: `${r.status}/${r.payment_status} number ${r.number}` }
	})

	const walletEntry = await step('order 1: _save_payment_source_to_customer_wallet (include available_customer_payment_sources)', async () => {
		const r = await cc.orders.update(
			{ id: order1.id, _save_payment_source_to_customer_wallet: true },
			{ include: ['available_customer_payment_sources'] },
		)
		const sources = r.available_customer_payment_sources
		expect(Array.isArray(sources) && sources.length > 0, 'available_customer_payment_sources should be included and non-empty', sources)
		const entry = sources.find((s) => s.type === 'customer_payment_sources' && s.customer_token && s.payment_source_token)
		expect(entry, 'no included wallet entry has both customer_token and payment_source_token (was it in `included`?)', sources)
		return { value: entry, note: `${entry.id} customer_token ${entry.customer_token} payment_source_token ${entry.payment_source_token}` }
	})

	// -- second order: reuse the wallet entry --------------------------------------------
	const order2 = await cart('order 2')

	await step('order 2: orders.update _customer_payment_source_id', async () => {
		const r = await cc.orders.update(
			{ id: order2.id, _customer_payment_source_id: walletEntry.id },
			{ include: ['payment_source'] },
		)
		expect(r.payment_source?.id, 'order should have a payment_source after _customer_payment_source_id', r.payment_source)
		return { note: `payment_source ${r.payment_source.type} ${r.payment_source.id}` }
	})

	await step('order 2: orders.update _place', async () => {
		const r = await cc.orders.update({ id: order2.id, _place: true })
		expect(r.status === 'placed', 'order status should be placed', { status: r.status, payment_status: r.payment_status })
		expect(r.payment_status === 'authorized', 'payment_status should be authorized', { status: r.status, payment_status: r.payment_status })
		return { note: `${r.status}/${r.payment_status} number ${r.number}` }
	})

	// -- what a storefront does next with the same clients ----------------------------------
	await step('orders.list (pageSize 1): meta.recordCount / pageCount', async () => {
		const list = await cc.orders.list({ pageSize: 1, sort: { created_at: 'asc' } })
		expect(list.length === 1 && [order1.id, order2.id].includes(list[0].id), 'page 1 should hold one of the two orders', list.map((o) => o.id))
		expect(list.recordCount === 2 && list.pageCount === 2, 'meta should count both orders on two pages', list.meta)
		expect(list.hasNextPage(), 'hasNextPage() should be true', list.meta)
		return { note: `recordCount ${list.recordCount}, pageCount ${list.pageCount}` }
	})

	await step('orders.available_customer_payment_sources(order 2) (related endpoint)', async () => {
		const list = await cc.orders.available_customer_payment_sources(order2.id)
		expect(list.some((s) => s.id === walletEntry.id), 'the wallet entry should be listed', list.map((s) => s.id))
		return { note: list.map((s) => s.id).join(', ') }
	})

	const refreshed = await step('customer token refresh (refresh_token grant)', async () => {
		const first = await authenticate('password', {
			clientId: env.SALES_CHANNEL_CLIENT_ID,
			username: email,
			password,
			scope: `market:code:${market.code}`,
			domain,
		})
		checkAuth(first, 'password')
		const auth = await authenticate('refresh_token', {
			clientId: env.SALES_CHANNEL_CLIENT_ID,
			refreshToken: first.refreshToken,
			domain,
		})
		checkAuth(auth, 'refresh_token')
		expect(auth.ownerId === customer.id, 'refreshed token should belong to the customer', auth.ownerId)
		return { value: auth.accessToken, note: `owner ${auth.ownerId}` }
	})

	await step('orders.retrieve(order 2) with the refreshed token', async () => {
		const r = await sdkClient(env, refreshed).orders.retrieve(order2.id)
		expect(r.status === 'placed' && r.payment_status === 'authorized', 'order 2 should be placed/authorized', r)
		return { note: `${r.status}/${r.payment_status}` }
	})

	await step('addresses.create + addresses.delete (204)', async () => {
		const addr = await cc.addresses.create(address({ first_name: 'Spare' }))
		await cc.addresses.delete(addr.id)
		const status = transport.last()?.status
		expect(status === 204, 'DELETE should answer 204', status)
		return { note: `${addr.id} deleted` }
	})

	console.log(`# passed: ${stepNo} steps`)
}

main().catch((err) => {
	console.log(`FAIL unexpected error: ${err?.stack || err}`)
	if (transport) console.log(describeExchange(transport.last()))
	process.exit(1)
})
