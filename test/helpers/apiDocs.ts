import { join } from 'node:path';
import ts from 'typescript';

export interface ExportDoc {
  name: string;
  kind: 'function' | 'class' | 'value' | 'type';
  summary: string;
  tags: string[];
  /** Parameter names of a function (or the class constructor) with no `@param` and no doc of their own. */
  undocumentedParams: string[];
}

/** Every export of src/index.ts with its TSDoc, as the TypeScript compiler sees it (what typedoc reads). */
export function publicApiDocs(root: string): ExportDoc[] {
  const entry = join(root, 'src', 'index.ts');
  const program = ts.createProgram([entry], { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, strict: true });
  const checker = program.getTypeChecker();
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
  return checker.getExportsOfModule(moduleSymbol).map((exported) => {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decl = symbol.declarations?.[0];
    // `export type { ImageDataset }` of a class: users get the type only, not the constructor.
    const typeOnly = exported.declarations?.some((d) => ts.isExportSpecifier(d) && (d.isTypeOnly || d.parent.parent.isTypeOnly)) ?? false;
    const kind: ExportDoc['kind'] = typeOnly
      ? 'type'
      : symbol.flags & ts.SymbolFlags.Class ? 'class' : symbol.flags & ts.SymbolFlags.Function ? 'function' : symbol.flags & ts.SymbolFlags.Variable ? 'value' : 'type';
    const summary = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
    const tags = symbol.getJsDocTags(checker).map((t) => t.name);
    let undocumentedParams: string[] = [];
    const fn = decl && (ts.isFunctionDeclaration(decl) ? decl : ts.isClassDeclaration(decl) ? decl.members.find(ts.isConstructorDeclaration) : undefined);
    const isPrivate = (fn?.modifiers ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword);
    if (fn && !isPrivate) {
      const documented = new Set(ts.getJSDocTags(fn).filter(ts.isJSDocParameterTag).map((t) => t.name.getText()));
      undocumentedParams = fn.parameters
        .filter((p) => !(p.modifiers ?? []).some((m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ReadonlyKeyword || m.kind === ts.SyntaxKind.PublicKeyword))
        .map((p) => p.name.getText())
        .filter((n) => !documented.has(n));
    }
    return { name: exported.name, kind, summary, tags, undocumentedParams };
  });
}
