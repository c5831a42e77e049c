import { html } from './console-html';

describe('html', () => {
  it('escapes interpolated text, attributes included', () => {
    const payload = `<img src=x onerror=alert(1)>" onmouseover='x' \``;
    expect(html`<p title="${payload}">${payload}</p>`.value).toBe(
      '<p title="&lt;img src=x onerror=alert(1)&gt;&quot; onmouseover=&#39;x&#39; &#96;">' +
        '&lt;img src=x onerror=alert(1)&gt;&quot; onmouseover=&#39;x&#39; &#96;</p>',
    );
  });

  it('keeps nested html as markup and joins arrays', () => {
    const items = ['a&b', '<c>'].map((item) => html`<li>${item}</li>`);
    const list = html`<ul>
      ${items}
    </ul>`;
    expect(list.value.replace(/\s+/g, '')).toBe('<ul><li>a&amp;b</li><li>&lt;c&gt;</li></ul>');
  });

  it('drops null, undefined and false, and prints numbers', () => {
    expect(html`${null}${undefined}${false}${0}${true}`.value).toBe('0true');
  });
});
