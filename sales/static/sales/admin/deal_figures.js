// A deal's page: its figures follow the terms as they are typed, before saving. The page's form
// is sent to the deal's figures address (DealAdmin.figures_view), which checks it as saving
// would and computes the figures with the service's calculation; this script only shows the
// answer. A new deal's blank sale price is filled with the chosen unit's asking price, and
// follows the unit while nobody has typed another price.
'use strict';
{
    const $ = django.jQuery;

    function start() {
        const panel = document.querySelector('[data-deal-figures]');
        const form = panel && panel.closest('form');
        const price = document.getElementById('id_sale_price');
        if (!form || !price) {
            return;  // a signed deal, or a page the user may only read
        }
        let filled = null;  // the price this script put in the field, while nobody changed it
        let timer = null;
        let asked = 0;

        function showErrors(messages) {
            const list = document.createElement('ul');
            list.className = 'errorlist';
            for (const message of messages) {
                const item = document.createElement('li');
                item.textContent = message;
                list.appendChild(item);
            }
            panel.replaceChildren(list);
        }

        async function refresh() {
            const ticket = ++asked;
            let body = null;
            try {
                const response = await fetch(panel.dataset.url, {
                    method: 'POST',
                    body: new FormData(form),
                    credentials: 'same-origin',
                    headers: {'Accept': 'application/json'},
                });
                body = await response.json();
            } catch (error) {
                body = {errors: ['The figures could not be computed; reload the page.']};
            }
            if (ticket !== asked) {
                return;  // a newer question is on its way
            }
            if (body.errors) {
                showErrors(body.errors);
                return;
            }
            if (price.value === '' && body.sale_price) {
                price.value = body.sale_price;
                filled = body.sale_price;
            }
            panel.innerHTML = body.html;  // rendered and escaped by the server's template
        }

        function later() {
            clearTimeout(timer);
            timer = setTimeout(refresh, 250);
        }

        price.addEventListener('input', function() {
            filled = null;  // typed by a person: kept when the unit changes
        });
        form.addEventListener('input', later);
        // The unit and vehicle pickers (select2) announce a choice through jQuery only.
        $(form).on('change', function(event) {
            if (event.target.id === 'id_stock_unit' && price.value === filled) {
                price.value = '';
            }
            later();
        });
        const unit = document.getElementById('id_stock_unit');
        if (unit && unit.value && !panel.querySelector('table')) {
            refresh();  // a new deal opened with its unit chosen
        }
    }

    if (document.readyState === 'loading') {
        document.addEventListener('DOMContentLoaded', start);
    } else {
        start();
    }
}
