import { Api } from '@trellis/protocol';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/http/openapi';

type Operation = {
  operationId: string;
  parameters?: { in: string; name: string; required?: boolean }[];
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> };
  responses: Record<string, { $ref?: string; content?: unknown }>;
};

describe('openApiDocument', () => {
  const doc = openApiDocument({ version: '1.2.3', serverUrl: 'https://calls.example.com' });
  const op = (def: Api.RequestDef) =>
    (doc.paths?.[def.http.path] as Record<string, Operation> | undefined)?.[def.http.method.toLowerCase()];

  it('is OpenAPI 3.1 with info, server and bearer security', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.version).toBe('1.2.3');
    expect(doc.servers).toEqual([{ url: 'https://calls.example.com' }]);
    expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    expect(() => JSON.parse(JSON.stringify(doc))).not.toThrow();
  });

  it('has every request of the table under its method, path and name', () => {
    for (const def of Api.apiRequests) {
      const operation = op(def);
      expect(operation, `${def.http.method} ${def.http.path}`).toBeDefined();
      expect(operation?.operationId).toBe(def.name);
      const inPath = operation?.parameters?.filter((p) => p.in === 'path').map((p) => p.name);
      expect(inPath).toEqual(Api.pathParams(def.http.path));
      expect(operation?.parameters?.filter((p) => p.in === 'path').every((p) => p.required)).toBe(true);
      expect(Object.keys(operation?.responses ?? {})).toEqual(
        expect.arrayContaining(['200', '400', '401', '403', '404', '409', '429', '503']),
      );
    }
    const count = Object.values(doc.paths ?? {}).flatMap((item) => Object.keys(item as object)).length;
    expect(count).toBe(Api.apiRequests.length);
  });

  it('puts path parameters in the path and the rest in the body', () => {
    const connect = op(Api.ConnectTransport);
    const body = connect?.requestBody?.content['application/json']?.schema.properties;
    expect(Object.keys(body ?? {})).toEqual(['dtlsParameters']);
    // Nothing but path parameters: no body at all.
    expect(op(Api.LeaveRoom)?.requestBody).toBeUndefined();
    expect(op(Api.GetRoom)?.requestBody).toBeUndefined();
    expect(op(Api.CloseProducer)?.requestBody).toBeUndefined();
    // A GET's other fields are its query string, optional unless the schema requires them.
    const query = op(Api.ListCallMetrics)?.parameters?.filter((p) => p.in === 'query');
    expect(query?.map((p) => [p.name, Boolean(p.required)])).toEqual(
      expect.arrayContaining([
        ['cursor', false],
        ['participantId', false],
      ]),
    );
  });

  it('answers errors with the shared ErrorBody component', () => {
    expect(doc.components?.schemas?.ErrorBody).toMatchObject({ type: 'object' });
    expect(op(Api.JoinRoom)?.responses['429']).toEqual({ $ref: '#/components/responses/Error429' });
    const tooMany = doc.components?.responses?.Error429 as {
      description: string;
      content: Record<string, { schema: unknown }>;
    };
    expect(tooMany.description).toContain('RATE_LIMITED');
    expect(tooMany.content['application/json']?.schema).toEqual({ $ref: '#/components/schemas/ErrorBody' });
  });

  it('is built once per version and server', () => {
    expect(openApiDocument({ version: '1.2.3', serverUrl: 'https://calls.example.com' })).toBe(doc);
    expect(openApiDocument({ version: '1.2.4' })).not.toBe(doc);
    expect(openApiDocument({ version: '1.2.4' }).servers).toBeUndefined();
  });
});
