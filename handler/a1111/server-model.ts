/**
 * The request model of the running server: which routes it serves and, per request route, which fields it takes
 * with which types, read from the server's own `GET /openapi.json` (FastAPI serves it in `--api` and `--nowebui`
 * modes: OpenAPI 3.0 from pydantic 1 on A1111 v1.10.1, OpenAPI 3.1 with `anyOf [..., {"type": "null"}]` on Forge).
 * When a server serves no usable document (an extension can break FastAPI's schema generation), the A1111 v1.10.1
 * model bundled in `schemas/` is used instead, and the log says which model each backend uses.
 *
 * Types only here; the parsing lives in `openapi.ts`.
 */

/** A field's JSON kind as the server's model declares it (pydantic's type, before coercion). */
export type FieldKind = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object' | 'any';

/** One field of a request model. */
export interface ModelField {
  readonly name: string;
  readonly kind: FieldKind;
  /** Kind of the items of an `array` field (`list[str]` → `string`), `any` when not declared. */
  readonly items?: FieldKind;
  /** Fields of each item of an `array` of objects (`ExtrasBatchImagesRequest.imageList` → `{data, name}`). */
  readonly itemFields?: ReadonlyMap<string, ModelField>;
  /**
   * Whether the model accepts `null`. A1111's processing fields are `Optional[...]` (accepted); its API-only fields
   * with plain types (`send_images: bool`, `script_args: list`, …) are not (pydantic 1 answers 422). OpenAPI 3.0
   * does not say which is which, so for A1111 this comes from the bundled model.
   */
  readonly nullable: boolean;
  /**
   * Set when the model accepts `null` but the server then fails (A1111 passes `None` on to the processing class,
   * where e.g. `steps` or `width` raise: a 500): what happens, for the refusal.
   */
  readonly nullFails?: string;
  /** The default the server uses when the field is absent (JSON value), when the model declares one. */
  readonly default?: unknown;
  /** True when the model declares a default (which may be `null`). */
  readonly hasDefault: boolean;
  /** True when the field must be sent (pydantic `required`). */
  readonly required: boolean;
  /** The only values allowed (`Literal[...]` / `enum`). */
  readonly enum?: readonly unknown[];
  /** pydantic constraints (`ge`, `le`, `gt`, `lt`) as the model declares them. */
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
}

/** One request body model (e.g. `StableDiffusionProcessingTxt2Img`). */
export interface RequestModel {
  /** The model's name as the server's schema names it. */
  readonly name: string;
  /** Its fields by name, in the model's order. */
  readonly fields: ReadonlyMap<string, ModelField>;
}

/** Where a server model comes from. */
export type ModelSource = 'openapi' | 'bundled';

/** The server's request model: routes served and request models by route. */
export interface ServerModel {
  readonly source: ModelSource;
  /** One line for logs and messages, e.g. `GET /openapi.json of http://127.0.0.1:3000 (OpenAPI 3.1.0, Forge)`. */
  readonly description: string;
  /** True when the server's txt2img model has Forge-only fields (`distilled_cfg_scale` …). */
  readonly forge: boolean;
  /**
   * Which pydantic reads the requests, hence how values are coerced: 1 (A1111 v1.10.1, OpenAPI 3.0) or 2 (Forge and
   * later A1111, OpenAPI 3.1: stricter, e.g. no numbers for `str`, no `3.5` for `int`).
   */
  readonly pydantic: 1 | 2;
  /** The request model of each POST route that has a body, by path (`/sdapi/v1/txt2img`). */
  readonly models: ReadonlyMap<string, RequestModel>;
  /**
   * Every `METHOD path` the server serves (`GET /controlnet/model_list`), or null when unknown (bundled model):
   * then routes are not checked against it.
   */
  readonly paths: ReadonlySet<string> | null;
}

/** `METHOD path` key of {@link ServerModel.paths}. */
export function pathKey(method: string, path: string): string {
  return `${method.toUpperCase()} ${path}`;
}

/**
 * Whether the server serves a route: true/false from its OpenAPI document, undefined when the model does not know
 * (bundled model).
 */
export function servesPath(model: ServerModel, method: string, path: string): boolean | undefined {
  return model.paths === null ? undefined : model.paths.has(pathKey(method, path));
}
