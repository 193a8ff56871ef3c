/**
 * The certificates and keys of TLS settings (a server's or a client's),
 * loaded and checked before any of them is used. Files are read asynchronously and
 * within bounds, so a FIFO or a hung mount at a path fails the load instead of
 * freezing the process; every certificate must parse and be inside its
 * validity period (on Effect's `Clock`); every private key must parse and
 * fit its certificate, checked for real (Node accepts a key of another type,
 * an RSA key for an EC certificate, and then every handshake fails).
 * Whatever is wrong is one {@link TlsConfigError} naming the file (the
 * settings' shapes and numbers were checked by their schema before).
 *
 * @internal
 */
import { Buffer } from "node:buffer"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Net from "node:net"
import type { Readable } from "node:stream"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import { TlsConfigError } from "../Errors.ts"
import type { PemSource, TlsOptions } from "../Tls.ts"

/** The most a PEM file may hold: a certificate chain is a few KiB, a large CA bundle a few hundred. */
export const maxPemBytes = 1024 * 1024

/** How long one PEM file may take to read. */
export const readTimeout = Duration.seconds(5)

/** A certificate chain and its private key, checked to fit each other. */
export interface KeyPair {
  readonly cert: Buffer
  readonly key: Buffer
  /** The leaf certificate. */
  readonly certificate: Crypto.X509Certificate
}

/** Everything a TLS engine serves, loaded and checked. */
export interface Material {
  readonly pair: KeyPair
  readonly ca: ReadonlyArray<Buffer> | undefined
  /** By server name, lower-cased. */
  readonly sni: ReadonlyMap<string, KeyPair>
}

const fileOf = (source: PemSource): { readonly file?: string } =>
  typeof source === "object" && !(source instanceof Uint8Array) ? { file: source.file } : {}

const codeOf = (cause: unknown): string =>
  cause instanceof Error && "code" in cause ? ` (${String(cause.code)})` : ""

/**
 * Reads a whole file without blocking the process: opened with
 * `O_NONBLOCK` (a FIFO's open otherwise waits for a writer, in a thread of
 * libuv's pool), then read through a `net.Socket` if it is a pipe, a file
 * stream otherwise. Stops past {@link maxPemBytes}. Interruption (the
 * timeout) destroys the stream, and closes a descriptor whose open returns
 * later; a read stuck in a hung mount keeps its pool thread until the mount
 * answers, but nothing waits for it.
 */
const readFile = (path: string, what: string): Effect.Effect<Buffer, TlsConfigError> =>
  Effect.callback<Buffer, TlsConfigError>((resume) => {
    let abandoned = false
    let stream: Readable | undefined
    const fail = (reason: string, cause?: unknown) => resume(Effect.fail(new TlsConfigError({ reason, file: path, cause })))
    const cannotRead = (cause: unknown) => fail(`cannot read the ${what}${codeOf(cause)}`, cause)
    Fs.open(path, Fs.constants.O_RDONLY | Fs.constants.O_NONBLOCK, (openError, fd) => {
      if (openError !== null) return abandoned ? undefined : cannotRead(openError)
      if (abandoned) return Fs.close(fd, constVoid)
      Fs.fstat(fd, (statError, stats) => {
        if (statError !== null || abandoned) {
          Fs.close(fd, constVoid)
          return abandoned ? undefined : cannotRead(statError)
        }
        const input: Readable = stats.isFIFO()
          ? new Net.Socket({ fd, readable: true, writable: false })
          : Fs.createReadStream(path, { fd })
        stream = input
        const chunks: Array<Buffer> = []
        let size = 0
        input.on("data", (chunk: Buffer) => {
          size += chunk.length
          if (size <= maxPemBytes) return void chunks.push(chunk)
          input.destroy()
          fail(`the ${what} is larger than ${maxPemBytes / 1024 / 1024} MiB: not a PEM file`)
        })
        input.once("end", () => {
          input.destroy()
          resume(Effect.succeed(Buffer.concat(chunks)))
        })
        input.once("error", cannotRead)
      })
    })
    return Effect.sync(() => {
      abandoned = true
      stream?.destroy()
    })
  }).pipe(
    Effect.timeoutOrElse({
      duration: readTimeout,
      orElse: () =>
        Effect.fail(
          new TlsConfigError({
            reason: `the ${what} could not be read within ${Duration.format(readTimeout)} (a pipe nobody writes to? a hung mount?)`,
            file: path
          })
        )
    })
  )

/** One PEM source's bytes: data as given, a file read by {@link readFile}. */
const read = (source: PemSource, what: string): Effect.Effect<Buffer, TlsConfigError> =>
  typeof source === "string"
    ? Effect.succeed(Buffer.from(source))
    : source instanceof Uint8Array
    ? Effect.succeed(Buffer.from(source))
    : readFile(source.file, what)

/** The labels of the PEM blocks in `pem` (`CERTIFICATE`, `PRIVATE KEY`, …), in order. */
const pemLabels = (pem: Buffer): ReadonlyArray<string> =>
  Array.from(pem.toString("latin1").matchAll(/-----BEGIN ([^\r\n-]+)-----/g), (match) => match[1]!)

/**
 * Why `pem` is not the PEM `expected`: it is no PEM at all, or PEM of
 * another kind (a key where the certificate belongs), or the right kind
 * but corrupt.
 */
const notPem = (
  pem: Buffer,
  source: PemSource,
  what: string,
  expected: string,
  isExpected: (label: string) => boolean
): string => {
  const labels = pemLabels(pem)
  if (labels.some(isExpected)) return `the ${what} does not parse`
  if (labels.length > 0) return `the ${what} is not ${expected} (found "-----BEGIN ${labels[0]}-----")`
  return `the ${what} is not ${expected}${typeof source === "string" ? " (to read a file, pass { file: path })" : ""}`
}

/** Runs checks that throw a {@link TlsConfigError} (anything else thrown is wrapped in one). */
const checked = <A>(check: () => A): Effect.Effect<A, TlsConfigError> =>
  Effect.try({
    try: check,
    catch: (cause) => cause instanceof TlsConfigError ? cause : new TlsConfigError({ reason: String(cause), cause })
  })

/** What is wrong with a certificate's validity period at `now`, if anything. */
export const outOfValidity = (certificate: Crypto.X509Certificate, now: number): string | undefined =>
  Date.parse(certificate.validTo) < now
    ? `expired on ${certificate.validTo}`
    : Date.parse(certificate.validFrom) > now
    ? `is not valid before ${certificate.validFrom}`
    : undefined

/** Parses the first certificate of `pem`; throws a {@link TlsConfigError}. */
const parseCertificate = (pem: Buffer, source: PemSource, what: string): Crypto.X509Certificate => {
  try {
    return new Crypto.X509Certificate(pem)
  } catch (cause) {
    const reason = notPem(pem, source, what, "a PEM certificate", (label) => label === "CERTIFICATE")
    throw new TlsConfigError({ reason, ...fileOf(source), cause })
  }
}

/** Parses a private key; throws a {@link TlsConfigError}. */
const parseKey = (pem: Buffer, source: PemSource, what: string): Crypto.KeyObject => {
  try {
    return Crypto.createPrivateKey(pem)
  } catch (cause) {
    const encrypted = pemLabels(pem).includes("ENCRYPTED PRIVATE KEY") || pem.includes("Proc-Type: 4,ENCRYPTED")
    const reason = encrypted
      ? `the ${what} is encrypted (give it unencrypted)`
      : notPem(pem, source, what, "a PEM private key", (label) => label.endsWith("PRIVATE KEY"))
    throw new TlsConfigError({ reason, ...fileOf(source), cause })
  }
}

/**
 * Reads and checks a certificate chain and its key: the leaf parses and is
 * valid at `now`, the key parses and fits it. `name` is the SNI name, for
 * messages.
 */
export const loadPair = (
  certSource: PemSource,
  keySource: PemSource,
  now: number,
  name?: string
): Effect.Effect<KeyPair, TlsConfigError> => {
  const suffix = name === undefined ? "" : ` for ${name}`
  return Effect.flatMap(
    Effect.all([read(certSource, `certificate${suffix}`), read(keySource, `key${suffix}`)]),
    ([cert, key]) =>
      checked(() => {
          const certificate = parseCertificate(cert, certSource, `certificate${suffix}`)
          const problem = outOfValidity(certificate, now)
          if (problem !== undefined) {
            throw new TlsConfigError({ reason: `the certificate${suffix} ${problem}`, ...fileOf(certSource) })
          }
          const privateKey = parseKey(key, keySource, `key${suffix}`)
          if (!certificate.checkPrivateKey(privateKey)) {
            const keyType = privateKey.asymmetricKeyType
            const certType = certificate.publicKey.asymmetricKeyType
            const types = keyType === certType ? "" : `: the key is ${keyType}, the certificate ${certType}`
            throw new TlsConfigError({ reason: `the key${suffix} does not fit the certificate${types}`, ...fileOf(keySource) })
          }
          return { cert, key, certificate }
        })
  )
}

/** Reads one CA source and checks that it holds a certificate. */
export const loadCa = (source: PemSource): Effect.Effect<Buffer, TlsConfigError> =>
  Effect.flatMap(read(source, "CA certificate"), (pem) =>
    checked(() => {
      parseCertificate(pem, source, "CA certificate")
      return pem
    }))

/**
 * Loads everything `options` name, in order: the certificate and key, the
 * CAs, then each SNI pair; fails with the first problem found.
 */
export const loadMaterial = (options: TlsOptions): Effect.Effect<Material, TlsConfigError> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const pair = yield* loadPair(options.cert, options.key, now)
    const cas = options.ca === undefined ? [] : Array.isArray(options.ca) ? options.ca : [options.ca as PemSource]
    const ca = cas.length === 0 ? undefined : yield* Effect.forEach(cas, loadCa)
    const sni = new Map<string, KeyPair>()
    for (const [name, { cert, key }] of Object.entries(options.sni ?? {})) {
      sni.set(name.toLowerCase(), yield* loadPair(cert, key, now, name))
    }
    return { pair, ca, sni }
  })
