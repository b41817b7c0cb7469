import { Readability } from '@mozilla/readability';
import { parseHTML } from 'linkedom';
import TurndownService from 'turndown';
import { RuntimeError } from '../errors.js';

/*
 * A fetched body as markdown a model can read: HTML goes through Readability (main content
 * only: no navigation, ads or footers) and Turndown; text formats pass through as they are.
 * Scripts never run: linkedom builds a DOM without executing anything.
 */

export interface Readable {
  title: string;
  markdown: string;
  /** "article" when Readability found main content, "page" when it fell back to the whole body, "text" for non-HTML. */
  extraction: 'article' | 'page' | 'text';
}

function charsetOf(contentType: string): string {
  const m = /charset\s*=\s*"?([\w.:-]+)"?/i.exec(contentType);
  return m?.[1]?.toLowerCase() ?? 'utf-8';
}

function decode(body: Buffer, contentType: string): string {
  try {
    return new TextDecoder(charsetOf(contentType), { fatal: false }).decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

const turndown = new TurndownService({ headingStyle: 'atx', codeBlockStyle: 'fenced', bulletListMarker: '-' });
turndown.remove(['script', 'style', 'noscript', 'iframe', 'form', 'svg'] as never);

function looksLikeHtml(text: string): boolean {
  return /^\s*(<!doctype html|<html|<head|<body)/i.test(text);
}

export function toReadable(body: Buffer, contentType: string, url: string): Readable {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  const text = decode(body, contentType);
  const isHtml = type === 'text/html' || type === 'application/xhtml+xml' || (type === '' && looksLikeHtml(text));
  if (!isHtml) {
    if (
      type.startsWith('text/') ||
      type === 'application/json' ||
      type.endsWith('+json') ||
      type === 'application/xml' ||
      type.endsWith('+xml') ||
      type === ''
    ) {
      return { title: url, markdown: text, extraction: 'text' };
    }
    throw new RuntimeError('FETCH_FAILED', `${url} is ${type}, not text or HTML`, {
      hint: 'fetch reads web pages and text files; binary content is not converted',
    });
  }
  const { document } = parseHTML(text);
  const title = (document.querySelector('title')?.textContent ?? '').trim() || url;
  // Readability mutates the document; it works on its own parse so the fallback sees the page whole.
  const article = new Readability(parseHTML(text).document as unknown as Document, { charThreshold: 200 }).parse();
  if (article?.content && (article.textContent ?? '').trim().length > 0) {
    return { title: article.title?.trim() || title, markdown: turndown.turndown(article.content).trim(), extraction: 'article' };
  }
  const bodyHtml = document.querySelector('body')?.innerHTML ?? text;
  return { title, markdown: turndown.turndown(bodyHtml).trim(), extraction: 'page' };
}
