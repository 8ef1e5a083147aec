/**
 * Request validation from the route schemas (`routes/auth-schemas.ts`), the same for every
 * edge: Ajv without type coercion (`{"password": 12345678}` stays a 400 whatever the host app's
 * settings), params before body, the first failure named in the message.
 */
import AjvModule, { type ErrorObject, type ValidateFunction } from 'ajv';
import { ApiError } from '../errors.js';

const Ajv = AjvModule.default ?? (AjvModule as unknown as typeof AjvModule.default);

let ajv: InstanceType<typeof Ajv> | undefined;

interface RequestSchema {
  params?: object;
  body?: object;
}

/** Compiles the `params` and `body` schemas of a route into one check that throws `VALIDATION_FAILED`. */
export function requestValidator(schema: RequestSchema): (request: { params: unknown; body: unknown }) => void {
  ajv ??= new Ajv({ coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false, strict: false });
  const params: ValidateFunction | undefined = schema.params && ajv.compile(schema.params);
  const body: ValidateFunction | undefined = schema.body && ajv.compile(schema.body);
  return (request) => {
    if (params && !params(request.params)) throw invalid(params.errors);
    if (body && !body(request.body)) throw invalid(body.errors);
  };
}

function invalid(errors: ErrorObject[] | null | undefined): ApiError {
  const first = errors?.[0];
  const field = first?.instancePath.replace(/^\//, '') || (first?.params as { missingProperty?: string } | undefined)?.missingProperty;
  return new ApiError('VALIDATION_FAILED', field ? `Invalid or missing field: ${field}.` : undefined);
}
